//! The four kinds of CUDA memory, their zc residency and DLPack device, and
//! the validation of copies between buffers (pure logic, no driver).

use zc_buffers::ledger::CopyKind;
use zc_buffers::{Buffer, BufferError, Device, DeviceType, Residency};

use crate::error::{CudaError, Result};

/// Alignment `cuMemAlloc` / `cuMemAllocAsync` guarantee for device memory.
pub const DEVICE_ALIGN: usize = 256;

/// Page size assumed for page-locked and registered host memory.
pub const PAGE: usize = zc_buffers::PAGE_ALIGN;

/// The kinds of memory zc-cuda hands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemoryKind {
    /// `cuMemAlloc`: device memory, not CPU-addressable.
    Device,
    /// `cuMemHostAlloc`: page-locked host memory.
    Pinned,
    /// `cuMemHostRegister`: existing host memory page-locked in place.
    Registered,
    /// `cuMemAllocManaged`: unified memory, addressable from both sides.
    Managed,
}

impl MemoryKind {
    /// The zc residency of this kind.
    pub fn residency(self) -> Residency {
        match self {
            MemoryKind::Device => Residency::Device,
            MemoryKind::Pinned => Residency::PinnedHost,
            MemoryKind::Registered => Residency::RegisteredHost,
            MemoryKind::Managed => Residency::Managed,
        }
    }

    /// The DLPack device consumers should see: `kDLCUDA` (2) for device
    /// memory, `kDLCUDAHost` (3) for pinned and registered host memory,
    /// `kDLCUDAManaged` (13) for managed memory.
    pub fn dlpack_device(self, ordinal: usize) -> Device {
        let device_type = match self {
            MemoryKind::Device => DeviceType::Cuda,
            MemoryKind::Pinned | MemoryKind::Registered => DeviceType::CudaHost,
            MemoryKind::Managed => DeviceType::CudaManaged,
        };
        Device {
            device_type,
            device_id: i32::try_from(ordinal).unwrap_or(i32::MAX),
        }
    }
}

/// What a copy between two buffers will do: its ledger kind, its byte
/// count, and the addresses the driver is given. Made by [`plan_copy`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopyPlan {
    /// The ledger kind: host→device, device→host or device→device.
    pub kind: CopyKind,
    /// Bytes moved.
    pub bytes: usize,
    /// Source address (host address for `HostToDevice`, else device).
    pub src: u64,
    /// Destination address (host address for `DeviceToHost`, else device).
    pub dst: u64,
}

impl CopyPlan {
    /// Record this copy in the zc-buffers ledger.
    pub fn record(&self) {
        zc_buffers::ledger::record_copy(self.kind, self.bytes);
    }
}

/// Which side of a copy a buffer is addressed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Through its host address (pageable, pinned, registered memory).
    Host,
    /// Through its device address (device, managed memory).
    Device,
}

/// How a buffer takes part in a transfer: memory with a device address
/// that is not plain host memory (device, managed) is addressed from the
/// device side; everything else through its host address.
pub fn side_of<B: Buffer + ?Sized>(buf: &B) -> Option<Side> {
    match buf.residency() {
        Residency::Device | Residency::Managed => buf.device_ptr().map(|_| Side::Device),
        _ => buf.host_ptr().map(|_| Side::Host),
    }
}

fn addr_of<B: Buffer + ?Sized>(buf: &B, side: Side) -> u64 {
    match side {
        Side::Host => buf.host_ptr().map_or(0, |p| p.as_ptr() as usize as u64),
        Side::Device => buf.device_ptr().unwrap_or(0),
    }
}

/// Check a copy of all of `src` into all of `dst` and say what it is.
///
/// Errors (nothing is touched): different lengths (`BufferError::LengthMismatch`), a
/// buffer with no usable address, or a host→host pair (not a CUDA copy;
/// use `zc_buffers::ledger::copy_bytes`).
pub fn plan_copy<S: Buffer + ?Sized, D: Buffer + ?Sized>(src: &S, dst: &D) -> Result<CopyPlan> {
    if src.len() != dst.len() {
        return Err(BufferError::LengthMismatch {
            expected: src.len(),
            actual: dst.len(),
        }
        .into());
    }
    let s = side_of(src).ok_or(CudaError::NotDeviceAccessible {
        what: "copy source",
        residency: src.residency(),
    })?;
    let d = side_of(dst).ok_or(CudaError::NotDeviceAccessible {
        what: "copy destination",
        residency: dst.residency(),
    })?;
    let kind = match (s, d) {
        (Side::Host, Side::Device) => CopyKind::HostToDevice,
        (Side::Device, Side::Host) => CopyKind::DeviceToHost,
        (Side::Device, Side::Device) => CopyKind::DeviceToDevice,
        (Side::Host, Side::Host) => {
            return Err(CudaError::NotDeviceAccessible {
                what: "copy between two host buffers (not a CUDA transfer)",
                residency: dst.residency(),
            });
        }
    };
    Ok(CopyPlan {
        kind,
        bytes: src.len(),
        src: addr_of(src, s),
        dst: addr_of(dst, d),
    })
}

/// The host address and length of a buffer about to be page-locked in
/// place, after checking that it can be: host memory that is not already
/// pinned, non-empty, starting on a page boundary.
pub fn check_registrable<B: Buffer + ?Sized>(buf: &B) -> Result<(usize, usize)> {
    match buf.residency() {
        Residency::PinnedHost | Residency::RegisteredHost | Residency::Managed => {
            return Err(CudaError::AlreadyPinned {
                residency: buf.residency(),
            });
        }
        _ => {}
    }
    let (ptr, len) = zc_buffers::check_page_registrable(buf, PAGE)?;
    Ok((ptr.as_ptr() as usize, len))
}

/// The alignment actually present at a host address, capped at one page.
pub(crate) fn host_align(addr: usize) -> usize {
    zc_buffers::addr_alignment(addr).min(PAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dlpack_codes_match_the_dlpack_header() {
        assert_eq!(MemoryKind::Device.dlpack_device(1).device_type as i32, 2);
        assert_eq!(MemoryKind::Device.dlpack_device(1).device_id, 1);
        assert_eq!(MemoryKind::Pinned.dlpack_device(0).device_type as i32, 3);
        assert_eq!(MemoryKind::Registered.dlpack_device(0).device_type as i32, 3);
        assert_eq!(MemoryKind::Managed.dlpack_device(0).device_type as i32, 13);
    }

    #[test]
    fn residencies() {
        assert_eq!(MemoryKind::Device.residency(), Residency::Device);
        assert!(!MemoryKind::Device.residency().is_host_accessible());
        assert_eq!(MemoryKind::Pinned.residency(), Residency::PinnedHost);
        assert_eq!(MemoryKind::Registered.residency(), Residency::RegisteredHost);
        assert_eq!(MemoryKind::Managed.residency(), Residency::Managed);
    }

    #[test]
    fn host_align_caps_at_a_page() {
        assert_eq!(host_align(0x1000), 4096);
        assert_eq!(host_align(0x10_0000), 4096);
        assert_eq!(host_align(0x1040), 64);
        assert_eq!(host_align(0x1001), 1);
        assert_eq!(host_align(0), 4096);
    }
}
