//! Existing host memory page-locked in place (`cuMemHostRegister`).

use std::ffi::c_void;
use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::Range;
use std::ptr::NonNull;

use cudarc::driver::sys;
use zc_buffers::{Buffer, Device, HostBuffer, HostBufferMut, Residency, SyncDirection};

use crate::device::CudaDevice;
use crate::driver::call_sys;
use crate::error::{CudaError, Result};
use crate::kind::{MemoryKind, check_registrable, host_align};
use zc_buffers::Rejected;

/// Options for [`Registered::with_options`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegisterOptions {
    /// `CU_MEMHOSTREGISTER_PORTABLE`: pinned for every context. On by default.
    pub portable: bool,
    /// `CU_MEMHOSTREGISTER_READ_ONLY`: the device only reads it (needed for
    /// read-only mappings such as an `MmapBuf`; the device must support it).
    pub read_only: bool,
}

impl Default for RegisterOptions {
    fn default() -> Self {
        Self {
            portable: true,
            read_only: false,
        }
    }
}

impl RegisterOptions {
    /// The `cuMemHostRegister` flags.
    pub fn flags(&self) -> u32 {
        let mut f = sys::CU_MEMHOSTREGISTER_DEVICEMAP;
        if self.portable {
            f |= sys::CU_MEMHOSTREGISTER_PORTABLE;
        }
        if self.read_only {
            f |= sys::CU_MEMHOSTREGISTER_READ_ONLY;
        }
        f
    }
}

/// A host buffer page-locked in place with `cuMemHostRegister`: a pool
/// buffer, an `AlignedBuf`, an mmap. Uploads from it are direct DMA with no
/// staging copy — the zero-copy upload path for zc pipelines. Unregistered
/// on drop (or by [`unregister`](Self::unregister), which hands the buffer
/// back).
///
/// The buffer must start on a page boundary (`BufferError::Misaligned` otherwise).
/// The driver pins whole pages, so the bytes from the end of the buffer to
/// the end of its last page are pinned too; with page-aligned owners (pool
/// classes, `AlignedBuf` at 4096) that page belongs to the same allocation.
///
/// ```no_run
/// use zc_buffers::{Pool, HostBufferMutExt};
/// use zc_cuda::{CudaDevice, DeviceBuffer, Registered};
/// let dev = CudaDevice::new(0)?;
/// let pool = Pool::builder().align(4096).build()?;
/// let mut mel = pool.acquire(80 * 3000 * 4)?;
/// mel.as_slice_mut::<f32>()?.fill(0.5);
/// let mel = Registered::new(mel)?;               // page-locked in place
/// let mut gpu = DeviceBuffer::alloc(&dev, mel.len())?;
/// dev.stream().copy_htod(&mel, &mut gpu)?;      // direct DMA, ledger: 1 H2D copy
/// # use zc_buffers::Buffer;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Registered<B> {
    inner: ManuallyDrop<Box<B>>,
    addr: usize,
    len: usize,
    dptr: Option<u64>,
    device: ManuallyDrop<CudaDevice>,
}

impl<B> fmt::Debug for Registered<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registered")
            .field("addr", &format_args!("{:#x}", self.addr))
            .field("len", &self.len)
            .field("buffer", &std::any::type_name::<B>())
            .finish()
    }
}

impl<B: HostBuffer> Registered<B> {
    /// Page-lock `buf` in place for the default device (device 0), portable
    /// to every context. On failure the buffer comes back untouched in the
    /// [`Rejected`] (which converts into `CudaError` / `BufferError` for `?`).
    pub fn new(buf: B) -> Result<Self, Rejected<B, CudaError>> {
        if let Err(e) = check_registrable(&buf) {
            return Err(Rejected::new(e, buf));
        }
        match CudaDevice::default_device() {
            Ok(dev) => Self::with_options(&dev, buf, RegisterOptions::default()),
            Err(e) => Err(Rejected::new(e, buf)),
        }
    }

    /// Page-lock `buf` in place for `device`.
    pub fn with_device(device: &CudaDevice, buf: B) -> Result<Self, Rejected<B, CudaError>> {
        Self::with_options(device, buf, RegisterOptions::default())
    }

    /// Page-lock `buf` in place for `device` with `options`.
    pub fn with_options(device: &CudaDevice, buf: B, options: RegisterOptions) -> Result<Self, Rejected<B, CudaError>> {
        // Box first: the registered address must not move with the value.
        let boxed = Box::new(buf);
        match Self::register(device, &boxed, options) {
            Ok((addr, len, dptr)) => Ok(Self {
                inner: ManuallyDrop::new(boxed),
                addr,
                len,
                dptr,
                device: ManuallyDrop::new(device.clone()),
            }),
            Err(e) => Err(Rejected::new(e, *boxed)),
        }
    }

    fn register(device: &CudaDevice, buf: &B, options: RegisterOptions) -> Result<(usize, usize, Option<u64>)> {
        check_registrable(buf)?;
        let bytes = buf.as_bytes();
        let (addr, len) = (bytes.as_ptr() as usize, bytes.len());
        if !device.caps().host_register {
            return Err(CudaError::RegisterUnsupported {
                ordinal: device.ordinal(),
            });
        }
        device.bind()?;
        let p = addr as *mut c_void;
        let flags = options.flags();
        // SAFETY: `p..p+len` is the live host allocation of `buf`, which the
        // caller keeps boxed (address fixed) until it is unregistered.
        // Registration only pins pages; it writes nothing.
        call_sys("cuMemHostRegister_v2", || unsafe {
            sys::cuMemHostRegister_v2(p, len, flags)
        })?;
        let mut dptr: sys::CUdeviceptr = 0;
        // SAFETY: `p` was registered just above with DEVICEMAP.
        let dptr = call_sys("cuMemHostGetDevicePointer_v2", || unsafe {
            sys::cuMemHostGetDevicePointer_v2(&mut dptr, p, 0)
        })
        .ok()
        .map(|()| dptr);
        Ok((addr, len, dptr))
    }
}

impl<B> Registered<B> {
    fn unregister_raw(&self) -> Result<()> {
        self.device.bind()?;
        let p = self.addr as *mut c_void;
        // SAFETY: `p` was registered by `register` and is unregistered once;
        // no copy of ours is still using it (sync copies waited, async ones
        // own the Registered until complete).
        call_sys("cuMemHostUnregister", || unsafe { sys::cuMemHostUnregister(p) })
    }

    /// Unregister and hand the buffer back. If the driver refuses, the
    /// buffer comes back in the [`Rejected`] (still registered with the
    /// driver; freeing it is then the driver's problem, not a Rust one).
    pub fn unregister(self) -> Result<B, Rejected<B, CudaError>> {
        let r = self.unregister_raw();
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped or used again; each ManuallyDrop
        // field is taken exactly once.
        let (inner, device) = unsafe {
            (
                ManuallyDrop::take(&mut this.inner),
                ManuallyDrop::take(&mut this.device),
            )
        };
        drop(device);
        match r {
            Ok(()) => Ok(*inner),
            Err(e) => Err(Rejected::new(e, *inner)),
        }
    }

    /// The registered buffer.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }

    /// The device it was registered for.
    pub fn device_handle(&self) -> &CudaDevice {
        &self.device
    }
}

impl<B> Drop for Registered<B> {
    fn drop(&mut self) {
        let _ = self.unregister_raw();
        // SAFETY: drop runs once; the fields are not used afterwards.
        unsafe {
            ManuallyDrop::drop(&mut self.inner);
            ManuallyDrop::drop(&mut self.device);
        }
    }
}

// SAFETY: the wrapped host buffer's own region (it upholds the contract),
// page-locked in place; the device alias is valid while registered.
unsafe impl<B: HostBuffer> Buffer for Registered<B> {
    fn len(&self) -> usize {
        self.len
    }
    fn align(&self) -> usize {
        host_align(self.addr)
    }
    fn residency(&self) -> Residency {
        MemoryKind::Registered.residency()
    }
    fn device(&self) -> Device {
        MemoryKind::Registered.dlpack_device(self.device.ordinal())
    }
    fn host_ptr(&self) -> Option<NonNull<u8>> {
        NonNull::new(self.addr as *mut u8)
    }
    fn device_ptr(&self) -> Option<u64> {
        self.dptr
    }
    fn sync(&mut self, direction: SyncDirection, range: Range<usize>) -> zc_buffers::Result<()> {
        self.inner.sync(direction, range)
    }
}

impl<B: HostBuffer> HostBuffer for Registered<B> {
    fn as_bytes(&self) -> &[u8] {
        self.inner.as_bytes()
    }
}

impl<B: HostBufferMut> HostBufferMut for Registered<B> {
    fn as_bytes_mut(&mut self) -> &mut [u8] {
        self.inner.as_bytes_mut()
    }
}

// SAFETY: the buffer is boxed, so moving a Registered never moves the
// registered bytes, and it owns the box exclusively.
unsafe impl<B: HostBuffer> zc_buffers::StableBytes for Registered<B> {}
