//! Probing the driver and calling it without ever panicking.
//!
//! cudarc (with `dynamic-loading`) loads `libcuda` on first use and panics
//! when it is absent or lacks an entry point. Everything in zc-cuda reaches
//! the driver through [`call`], which runs after [`driver_present`] said the
//! library loads and turns any panic into [`CudaError::DriverUnusable`].

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

use cudarc::driver::{DriverError, result, sys};

use crate::error::{CudaError, Result};

/// True when `libcuda` can be loaded (probed once per process).
pub fn driver_present() -> bool {
    static PRESENT: OnceLock<bool> = OnceLock::new();
    *PRESENT.get_or_init(|| {
        // SAFETY: `is_culib_present` only tries to dlopen the candidate
        // library names and drops what it opened; loading libcuda runs its
        // initialisers, which is what every CUDA program does.
        catch_unwind(|| unsafe { sys::is_culib_present() }).unwrap_or(false)
    })
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

/// Convert a cudarc `DriverError` from `call` into a [`CudaError`].
pub(crate) fn driver_error(call: &'static str, e: DriverError) -> CudaError {
    let code = e.0 as u32;
    let name = format!("{:?}", e.0);
    // The library is loaded whenever a DriverError exists, so asking it for
    // the description is safe; guard it all the same.
    let message = catch_unwind(AssertUnwindSafe(|| {
        e.error_string()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "no description".to_string())
    }))
    .unwrap_or_else(|_| "no description".to_string());
    if e.0 == sys::CUresult::CUDA_ERROR_NO_DEVICE {
        return CudaError::NoDevice { ordinal: 0, count: 0 };
    }
    CudaError::Driver {
        call,
        code,
        name,
        message,
    }
}

/// Run one driver call: `NoDriver` when libcuda is absent, the driver's
/// error code as [`CudaError::Driver`], a binding panic as
/// [`CudaError::DriverUnusable`].
pub(crate) fn call<T>(name: &'static str, f: impl FnOnce() -> std::result::Result<T, DriverError>) -> Result<T> {
    if !driver_present() {
        return Err(CudaError::NoDriver);
    }
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(driver_error(name, e)),
        Err(payload) => Err(CudaError::DriverUnusable {
            call: name,
            message: panic_message(payload.as_ref()),
        }),
    }
}

/// Like [`call`] for the raw `sys` functions that return a `CUresult`.
pub(crate) fn call_sys(name: &'static str, f: impl FnOnce() -> sys::CUresult) -> Result<()> {
    call(name, || f().result())
}

/// Initialise the driver (idempotent) and return the number of devices.
pub(crate) fn init_and_count() -> Result<usize> {
    call("cuInit", result::init)?;
    let n = call("cuDeviceGetCount", result::device::get_count)?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// True when a CUDA driver is installed and reports at least one device.
/// Never panics; the cheap library probe runs first.
///
/// ```
/// if !zc_cuda::available() {
///     println!("no CUDA here; taking the CPU path");
/// }
/// ```
pub fn available() -> bool {
    probe().is_ok()
}

/// What [`available`] checks, with the reason when it is false:
/// `Ok(device_count)` (≥ 1), or `NoDriver`, `NoDevice`, or a driver error.
pub fn probe() -> Result<usize> {
    if !driver_present() {
        return Err(CudaError::NoDriver);
    }
    match init_and_count()? {
        0 => Err(CudaError::NoDevice { ordinal: 0, count: 0 }),
        n => Ok(n),
    }
}

/// Number of CUDA devices (0 when the driver finds none).
pub fn device_count() -> Result<usize> {
    match init_and_count() {
        Err(CudaError::NoDevice { .. }) => Ok(0),
        other => other,
    }
}

/// The driver's CUDA version as `1000 * major + 10 * minor` (12080 = 12.8).
pub fn driver_version() -> Result<i32> {
    call("cuInit", result::init)?;
    let mut v: std::ffi::c_int = 0;
    // SAFETY: cuDriverGetVersion writes one int through a valid pointer.
    call_sys("cuDriverGetVersion", || unsafe { sys::cuDriverGetVersion(&mut v) })?;
    Ok(v)
}
