//! An opened XRT device (`xrtDeviceHandle`).

use std::ffi::c_void;
use std::fmt;
use std::sync::Arc;

use crate::error::{NpuError, Result};
use crate::runtime::{DeviceHandle, Xrt};

struct DeviceInner {
    xrt: Arc<Xrt>,
    handle: DeviceHandle,
    index: u32,
}

// SAFETY: an xrtDeviceHandle is an opaque key into XRT's internally locked
// device cache; the C API may be called with it from any thread, and the
// handle is closed exactly once (in Drop, when the last clone is gone).
unsafe impl Send for DeviceInner {}
// SAFETY: as above; shared access only passes the handle to thread-safe XRT
// entry points.
unsafe impl Sync for DeviceInner {}

impl Drop for DeviceInner {
    fn drop(&mut self) {
        // SAFETY: handle came from xrtDeviceOpen of this runtime and is closed
        // only here; every buffer object holds a clone of the NpuDevice, so
        // none is alive any more. The return code cannot be reported from
        // Drop; a failed close leaks nothing on our side.
        let _ = unsafe { (self.xrt.fns().device_close)(self.handle) };
    }
}

/// An opened NPU (XRT device). Cheap to clone (shared); the device is closed
/// when the last clone and the last buffer object on it are gone.
#[derive(Clone)]
pub struct NpuDevice {
    inner: Arc<DeviceInner>,
}

impl fmt::Debug for NpuDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NpuDevice")
            .field("index", &self.inner.index)
            .field("runtime", &self.inner.xrt.path())
            .finish()
    }
}

impl NpuDevice {
    /// Open device `index` through the process-wide runtime
    /// ([`Xrt::global`]). Errors: [`NpuError::LibraryNotFound`] (with every
    /// path tried), [`NpuError::SymbolMissing`], [`NpuError::NoDevice`].
    pub fn open(index: u32) -> Result<NpuDevice> {
        let xrt = Xrt::global()?;
        Self::open_with(&xrt, index)
    }

    /// Open device `index` through an explicitly loaded runtime.
    pub fn open_with(xrt: &Arc<Xrt>, index: u32) -> Result<NpuDevice> {
        crate::errno::clear();
        // SAFETY: xrtDeviceOpen takes an index by value and returns a handle
        // or NULL; any index is valid input.
        let handle = unsafe { (xrt.fns().device_open)(index) };
        if handle.is_null() {
            return Err(NpuError::NoDevice {
                index,
                code: crate::errno::last(),
            });
        }
        Ok(NpuDevice {
            inner: Arc::new(DeviceInner {
                xrt: xrt.clone(),
                handle,
                index,
            }),
        })
    }

    /// The index the device was opened with.
    pub fn index(&self) -> u32 {
        self.inner.index
    }

    /// The runtime this device was opened through.
    pub fn runtime(&self) -> &Arc<Xrt> {
        &self.inner.xrt
    }

    /// The raw `xrtDeviceHandle`, for calling XRT functions this crate does
    /// not wrap. It stays valid while this `NpuDevice` (or a clone, or a
    /// buffer object on it) lives; do not close it.
    pub fn as_raw(&self) -> *mut c_void {
        self.inner.handle
    }
}
