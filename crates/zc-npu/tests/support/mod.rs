//! Test support: builds the fake XRT library from `tests/fake_xrt.c` once per
//! test binary and gives access to its `zc_fake_*` controls.

#![allow(dead_code)]

use std::ffi::{CString, c_char, c_int, c_void};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use zc_npu::{NpuBuffer, NpuDevice, Xrt};

#[path = "../../../../tests/support/shared_c_lib.rs"]
mod shared_c_lib;

/// The fake with every XRT symbol.
pub fn fake_lib() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| compile("full", &[]))
}

/// The fake built without `xrtBOSync` (for the missing-symbol path).
pub fn fake_lib_without_sync() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| compile("nosync", &["-DZC_FAKE_OMIT_SYNC"]))
}

/// The fake loaded through zc-npu's own loading code.
pub fn xrt() -> Arc<Xrt> {
    Xrt::load(fake_lib()).expect("the fake XRT library loads")
}

/// A fresh fake device (its own call log, so parallel tests do not mix).
pub fn device() -> NpuDevice {
    NpuDevice::open_with(&xrt(), 0).expect("fake device 0 opens")
}

/// Build `tests/fake_xrt.c` with `defines` into its own file for this test
/// binary and `variant` (rebuilt on every run), and return its path.
fn compile(variant: &str, defines: &[&str]) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("fake_xrt.c");
    let built = shared_c_lib::create_dir(Path::new(env!("CARGO_TARGET_TMPDIR")).join("zc-npu-fake-xrt"))
        .map(|dir| dir.join(format!("libfake_xrt_{variant}_{}.so", shared_c_lib::test_binary_stem())))
        .and_then(|out| shared_c_lib::compile_shared(&src, &out, defines).map(|()| out));
    built.unwrap_or_else(|e| panic!("building the fake XRT library: {e}"))
}

/// The fake-only symbols, resolved from the same library file (the dynamic
/// loader hands back the same instance that zc-npu loaded).
pub struct Fake {
    log: unsafe extern "C" fn(*mut c_void, *mut c_char, usize) -> usize,
    fail_next: unsafe extern "C" fn(*mut c_void, *const c_char, c_int),
    live_bos: unsafe extern "C" fn(*mut c_void) -> i64,
    device_write: unsafe extern "C" fn(*mut c_void, usize, *const c_void, usize) -> c_int,
    device_read: unsafe extern "C" fn(*mut c_void, usize, *mut c_void, usize) -> c_int,
    _lib: libloading::Library,
}

/// The controls of [`fake_lib`].
pub fn fake() -> &'static Fake {
    static FAKE: OnceLock<Fake> = OnceLock::new();
    FAKE.get_or_init(|| {
        // SAFETY: the fake library's initialisers are trivial.
        let lib = unsafe { libloading::Library::new(fake_lib()) }.expect("load the fake library");
        // SAFETY: the types match the C definitions in tests/fake_xrt.c; the
        // pointers are used only while `_lib` (kept in Fake) is loaded.
        unsafe {
            Fake {
                log: *lib.get(b"zc_fake_log").expect("zc_fake_log"),
                fail_next: *lib.get(b"zc_fake_fail_next").expect("zc_fake_fail_next"),
                live_bos: *lib.get(b"zc_fake_live_bos").expect("zc_fake_live_bos"),
                device_write: *lib.get(b"zc_fake_device_write").expect("zc_fake_device_write"),
                device_read: *lib.get(b"zc_fake_device_read").expect("zc_fake_device_read"),
                _lib: lib,
            }
        }
    })
}

impl Fake {
    /// The device's call log, one call per line.
    pub fn log_raw(&self, dev: *mut c_void) -> String {
        // SAFETY: dev is a fake device handle (kept alive by the fake even
        // after close); a null buffer only asks for the length.
        let len = unsafe { (self.log)(dev, std::ptr::null_mut(), 0) };
        let mut buf = vec![0u8; len + 1];
        // SAFETY: buf holds len + 1 bytes.
        unsafe { (self.log)(dev, buf.as_mut_ptr().cast(), buf.len()) };
        buf.truncate(len);
        String::from_utf8(buf).expect("the log is ASCII")
    }

    /// The device's call log as lines.
    pub fn log(&self, dev: &NpuDevice) -> Vec<String> {
        self.log_raw(dev.as_raw()).lines().map(str::to_string).collect()
    }

    /// Make the next `call` ("alloc", "alloc_userptr", "map", "sync") fail.
    pub fn fail_next(&self, dev: &NpuDevice, call: &str, code: i32) {
        let c = CString::new(call).expect("no NUL in call name");
        // SAFETY: dev is a live fake device; c is NUL-terminated.
        unsafe { (self.fail_next)(dev.as_raw(), c.as_ptr(), code) }
    }

    /// BOs allocated and not freed on the device (raw handle: also after
    /// the `NpuDevice` is gone).
    pub fn live_bos_raw(&self, dev: *mut c_void) -> i64 {
        // SAFETY: dev is a fake device handle (never freed by the fake).
        unsafe { (self.live_bos)(dev) }
    }

    /// BOs allocated and not freed on the device.
    pub fn live_bos(&self, dev: &NpuDevice) -> i64 {
        self.live_bos_raw(dev.as_raw())
    }

    /// Write the device side of a BO (what the NPU would produce).
    pub fn device_write<H>(&self, bo: &NpuBuffer<H>, offset: usize, data: &[u8]) {
        // SAFETY: bo's handle is live; the fake bounds-checks the range.
        let rc = unsafe { (self.device_write)(bo.as_raw(), offset, data.as_ptr().cast(), data.len()) };
        assert_eq!(rc, 0, "device_write out of range");
    }

    /// Read the device side of a BO (what the NPU would see).
    pub fn device_read<H>(&self, bo: &NpuBuffer<H>, offset: usize, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        // SAFETY: bo's handle is live; out holds len bytes; the fake
        // bounds-checks the range.
        let rc = unsafe { (self.device_read)(bo.as_raw(), offset, out.as_mut_ptr().cast(), len) };
        assert_eq!(rc, 0, "device_read out of range");
        out
    }
}
