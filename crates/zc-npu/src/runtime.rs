//! Loading `libxrt_coreutil` at run time and resolving the XRT C API.
//!
//! Nothing links against XRT at build time. [`Xrt::load`] opens one explicit
//! path; [`Xrt::load_first`] tries a list; [`Xrt::global`] is the process-wide
//! runtime, loaded once (in a `OnceLock`) from [`default_candidates`], which
//! honours the [`LIB_ENV`] environment variable.

use std::ffi::{OsString, c_int, c_uint, c_void};
use std::fmt;
use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::error::{LoadAttempt, NpuError, Result};

/// The environment variable that overrides where the XRT library is loaded
/// from (a full path to `libxrt_coreutil.so*`). When it is set, only that
/// path is tried.
pub const LIB_ENV: &str = "ZC_XRT_LIB";

/// The environment variable XRT's own setup script exports (the XRT install
/// prefix); `$XILINX_XRT/lib` is searched when it is set.
pub const XILINX_XRT_ENV: &str = "XILINX_XRT";

/// Where XRT installs itself by default on Linux.
pub const DEFAULT_XRT_PREFIX: &str = "/opt/xilinx/xrt";

/// `xrtDeviceHandle` (`void*`).
pub(crate) type DeviceHandle = *mut c_void;
/// `xrtBufferHandle` (`void*`).
pub(crate) type BufferHandle = *mut c_void;

type DeviceOpenFn = unsafe extern "C" fn(c_uint) -> DeviceHandle;
type DeviceCloseFn = unsafe extern "C" fn(DeviceHandle) -> c_int;
type BoAllocFn = unsafe extern "C" fn(DeviceHandle, usize, u64, u32) -> BufferHandle;
type BoAllocUserPtrFn = unsafe extern "C" fn(DeviceHandle, *mut c_void, usize, u64, u32) -> BufferHandle;
type BoMapFn = unsafe extern "C" fn(BufferHandle) -> *mut c_void;
/// `enum xclBOSyncDirection` is passed as a C `int`.
type BoSyncFn = unsafe extern "C" fn(BufferHandle, c_int, usize, usize) -> c_int;
type BoFreeFn = unsafe extern "C" fn(BufferHandle) -> c_int;
type BoSizeFn = unsafe extern "C" fn(BufferHandle) -> usize;
type BoAddressFn = unsafe extern "C" fn(BufferHandle) -> u64;

/// The resolved function pointers. Valid while the `Library` in the same
/// [`Xrt`] is loaded, which is as long as the `Xrt` lives.
#[derive(Clone, Copy)]
pub(crate) struct Fns {
    pub(crate) device_open: DeviceOpenFn,
    pub(crate) device_close: DeviceCloseFn,
    pub(crate) bo_alloc: BoAllocFn,
    pub(crate) bo_alloc_user_ptr: BoAllocUserPtrFn,
    pub(crate) bo_map: BoMapFn,
    pub(crate) bo_sync: BoSyncFn,
    pub(crate) bo_free: BoFreeFn,
    pub(crate) bo_size: BoSizeFn,
    pub(crate) bo_address: BoAddressFn,
}

/// The C symbols zc-npu resolves, in resolution order.
pub const SYMBOLS: [&str; 9] = [
    "xrtDeviceOpen",
    "xrtDeviceClose",
    "xrtBOAlloc",
    "xrtBOAllocUserPtr",
    "xrtBOMap",
    "xrtBOSync",
    "xrtBOFree",
    "xrtBOSize",
    "xrtBOAddress",
];

/// A loaded XRT runtime: the library and its resolved C API.
///
/// Cheap to share (`Arc<Xrt>`); devices and buffer objects keep their
/// runtime alive. The library itself is never unloaded (XRT does not
/// support `dlclose`), so loading it more than once costs nothing extra.
pub struct Xrt {
    fns: Fns,
    path: PathBuf,
    // Never unloaded: the fn pointers point into it, and XRT is a C++
    // runtime with static objects and worker threads that do not survive a
    // dlclose. Loading the same path again reuses the loaded image.
    _lib: ManuallyDrop<libloading::Library>,
}

impl fmt::Debug for Xrt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Xrt").field("path", &self.path).finish_non_exhaustive()
    }
}

/// An error's message followed by its sources (libloading puts the loader's
/// own text, e.g. "cannot open shared object file", in the source).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

/// Resolve one symbol as a function pointer of type `T`.
///
/// # Safety
/// `T` must be the exact C signature of `name` in the XRT C API.
unsafe fn resolve<T: Copy>(lib: &libloading::Library, name: &'static str, path: &Path) -> Result<T> {
    // SAFETY: the caller guarantees T matches the symbol's C signature; the
    // pointer is copied out and only used while `lib` stays loaded (Xrt holds
    // both).
    let sym = unsafe { lib.get::<T>(name.as_bytes()) };
    match sym {
        Ok(s) => Ok(*s),
        Err(e) => Err(NpuError::SymbolMissing {
            symbol: name,
            path: path.to_path_buf(),
            reason: error_chain(&e),
        }),
    }
}

impl Xrt {
    /// Load the XRT library at exactly `path` (a file path, or a bare name
    /// such as `libxrt_coreutil.so.2` that the dynamic loader searches for)
    /// and resolve the C API.
    ///
    /// Errors: [`NpuError::LibraryNotFound`] (with the path and the loader's
    /// reason) when it cannot be opened, [`NpuError::SymbolMissing`] when a
    /// symbol of the C API is absent.
    pub fn load(path: impl AsRef<Path>) -> Result<Arc<Xrt>> {
        let path = path.as_ref();
        match Self::try_open(path) {
            Ok(lib) => Self::from_library(lib, path.to_path_buf()),
            Err(reason) => Err(NpuError::LibraryNotFound {
                tried: vec![LoadAttempt {
                    path: path.to_path_buf(),
                    reason,
                }],
            }),
        }
    }

    /// Try each candidate in order and use the first that opens. A candidate
    /// that opens but lacks a symbol is an error at once (it is an XRT
    /// library, just not a usable one), not a reason to go on.
    pub fn load_first<I, P>(candidates: I) -> Result<Arc<Xrt>>
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        let mut tried = Vec::new();
        for candidate in candidates {
            let path: PathBuf = candidate.into();
            match Self::try_open(&path) {
                Ok(lib) => return Self::from_library(lib, path),
                Err(reason) => tried.push(LoadAttempt { path, reason }),
            }
        }
        Err(NpuError::LibraryNotFound { tried })
    }

    /// The process-wide runtime, loaded on first use from
    /// [`default_candidates`] and cached (success or failure) for the life
    /// of the process. Never panics.
    pub fn global() -> Result<Arc<Xrt>> {
        static GLOBAL: OnceLock<Result<Arc<Xrt>>> = OnceLock::new();
        GLOBAL.get_or_init(|| Xrt::load_first(default_candidates())).clone()
    }

    /// The path (or name) the library was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn fns(&self) -> &Fns {
        &self.fns
    }

    fn try_open(path: &Path) -> std::result::Result<libloading::Library, String> {
        // SAFETY: loading a shared library runs its initialisers. The paths
        // tried are XRT's own library (or one the user named explicitly
        // through the API or ZC_XRT_LIB), whose initialisers are sound to
        // run; this is the documented contract of `Xrt::load`.
        unsafe { libloading::Library::new(path) }.map_err(|e| error_chain(&e))
    }

    fn from_library(lib: libloading::Library, path: PathBuf) -> Result<Arc<Xrt>> {
        // SAFETY: for each resolve below, the function-pointer type is the C
        // signature declared in XRT's xrt/xrt_device.h and xrt/xrt_bo.h
        // (handles are void*, xrtBufferFlags is uint64_t, xrtMemoryGroup is
        // uint32_t, enum xclBOSyncDirection is an int).
        let fns = unsafe {
            Fns {
                device_open: resolve(&lib, SYMBOLS[0], &path)?,
                device_close: resolve(&lib, SYMBOLS[1], &path)?,
                bo_alloc: resolve(&lib, SYMBOLS[2], &path)?,
                bo_alloc_user_ptr: resolve(&lib, SYMBOLS[3], &path)?,
                bo_map: resolve(&lib, SYMBOLS[4], &path)?,
                bo_sync: resolve(&lib, SYMBOLS[5], &path)?,
                bo_free: resolve(&lib, SYMBOLS[6], &path)?,
                bo_size: resolve(&lib, SYMBOLS[7], &path)?,
                bo_address: resolve(&lib, SYMBOLS[8], &path)?,
            }
        };
        Ok(Arc::new(Xrt {
            fns,
            path,
            _lib: ManuallyDrop::new(lib),
        }))
    }
}

/// The library locations [`Xrt::global`] tries, in order, given the current
/// environment: only `$ZC_XRT_LIB` when it is set; otherwise
/// `$XILINX_XRT/lib/libxrt_coreutil.so.2` (when `XILINX_XRT` is set), the
/// loader's search for `libxrt_coreutil.so.2` and `libxrt_coreutil.so`, then
/// `/opt/xilinx/xrt/lib/libxrt_coreutil.so.2` and `.so`.
pub fn default_candidates() -> Vec<PathBuf> {
    candidates_for(std::env::var_os(LIB_ENV), std::env::var_os(XILINX_XRT_ENV))
}

/// [`default_candidates`] for explicit values of `ZC_XRT_LIB` and
/// `XILINX_XRT` (so the order can be checked without touching the
/// process environment). Empty values count as unset.
pub fn candidates_for(lib_override: Option<OsString>, xilinx_xrt: Option<OsString>) -> Vec<PathBuf> {
    if let Some(p) = lib_override.filter(|p| !p.is_empty()) {
        return vec![PathBuf::from(p)];
    }
    let mut out = Vec::new();
    for name in library_names() {
        if let Some(prefix) = xilinx_xrt.as_ref().filter(|p| !p.is_empty()) {
            let p = Path::new(prefix).join("lib").join(name);
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    for name in library_names() {
        out.push(PathBuf::from(name));
    }
    for name in library_names() {
        let p = Path::new(DEFAULT_XRT_PREFIX).join("lib").join(name);
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

fn library_names() -> &'static [&'static str] {
    if cfg!(windows) {
        &["xrt_coreutil.dll"]
    } else {
        &["libxrt_coreutil.so.2", "libxrt_coreutil.so"]
    }
}
