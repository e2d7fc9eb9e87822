//! The parts of zc-cuda that need no GPU: copy planning and its ledger
//! records, DLPack device codes, residencies, registration checks, options.
//! These run everywhere.

use std::ptr::NonNull;

use zc_buffers::interop::dlpack::{DataType, DlpackTensor};
use zc_buffers::ledger::{self, CopyKind};
use zc_buffers::{AlignedBuf, Buffer, BufferError, Device, PAGE_ALIGN, Pool, Residency};
use zc_cuda::{
    CopyPlan, CudaError, DEVICE_ALIGN, MemoryKind, PAGE, PinnedOptions, RegisterOptions, Side, check_registrable,
    plan_copy, side_of,
};

/// A stand-in with the shape of a CUDA buffer of a given kind; never
/// dereferenced (only planning and DLPack metadata read it).
struct Fake {
    kind: MemoryKind,
    addr: u64,
    len: usize,
}

// SAFETY: not a real buffer — the tests only plan copies and read DLPack
// metadata from it; nothing dereferences its addresses.
unsafe impl Buffer for Fake {
    fn len(&self) -> usize {
        self.len
    }
    fn align(&self) -> usize {
        DEVICE_ALIGN
    }
    fn residency(&self) -> Residency {
        self.kind.residency()
    }
    fn device(&self) -> Device {
        self.kind.dlpack_device(0)
    }
    fn host_ptr(&self) -> Option<NonNull<u8>> {
        match self.kind {
            MemoryKind::Device => None,
            _ => NonNull::new(self.addr as usize as *mut u8),
        }
    }
    fn device_ptr(&self) -> Option<u64> {
        Some(self.addr)
    }
}

fn fake(kind: MemoryKind, len: usize) -> Fake {
    Fake {
        kind,
        addr: 0x7f00_0000_0000,
        len,
    }
}

#[test]
fn plans_classify_every_direction() {
    let host = AlignedBuf::zeroed(1024).unwrap();
    let mut out = AlignedBuf::zeroed(1024).unwrap();
    let dev = fake(MemoryKind::Device, 1024);
    let managed = fake(MemoryKind::Managed, 1024);
    let pinned = fake(MemoryKind::Pinned, 1024);

    let p = plan_copy(&host, &dev).unwrap();
    assert_eq!(p.kind, CopyKind::HostToDevice);
    assert_eq!(p.bytes, 1024);
    assert_eq!(p.src, host.as_ptr() as u64);
    assert_eq!(p.dst, dev.addr);

    let p = plan_copy(&dev, &out).unwrap();
    assert_eq!(p.kind, CopyKind::DeviceToHost);
    assert_eq!(p.dst, out.as_mut_ptr() as u64);

    assert_eq!(plan_copy(&dev, &managed).unwrap().kind, CopyKind::DeviceToDevice);
    assert_eq!(plan_copy(&pinned, &managed).unwrap().kind, CopyKind::HostToDevice);
    assert_eq!(plan_copy(&managed, &pinned).unwrap().kind, CopyKind::DeviceToHost);

    assert_eq!(side_of(&host), Some(Side::Host));
    assert_eq!(side_of(&pinned), Some(Side::Host));
    assert_eq!(side_of(&dev), Some(Side::Device));
    assert_eq!(side_of(&managed), Some(Side::Device));
}

#[test]
fn bad_plans_are_refused_with_figures() {
    let host = AlignedBuf::zeroed(1000).unwrap();
    let other = AlignedBuf::zeroed(1000).unwrap();
    let dev = fake(MemoryKind::Device, 1024);
    match plan_copy(&host, &dev) {
        Err(CudaError::Buffer(BufferError::LengthMismatch { expected, actual })) => {
            assert_eq!((expected, actual), (1000, 1024));
        }
        other => panic!("expected LengthMismatch, got {other:?}"),
    }
    assert!(matches!(
        plan_copy(&host, &other),
        Err(CudaError::NotDeviceAccessible { .. })
    ));
    let e = plan_copy(&host, &dev).unwrap_err().to_string();
    assert!(e.contains("1000") && e.contains("1024"), "{e}");
}

#[test]
fn recording_a_plan_reaches_the_ledger() {
    let host = AlignedBuf::zeroed(960_000).unwrap();
    let dev = fake(MemoryKind::Device, 960_000);
    let ((), r) = ledger::scope(|| {
        let up = plan_copy(&host, &dev).unwrap();
        up.record();
        let down = CopyPlan {
            kind: CopyKind::DeviceToHost,
            ..up
        };
        down.record();
    });
    assert_eq!(r.copies, 2);
    assert_eq!(r.copies_of(CopyKind::HostToDevice), 1);
    assert_eq!(r.bytes_of(CopyKind::HostToDevice), 960_000);
    assert_eq!(r.bytes_of(CopyKind::DeviceToHost), 960_000);
    assert_eq!(r.bytes_copied, 1_920_000);
}

#[test]
fn dlpack_export_carries_the_cuda_device_codes() {
    for (kind, code) in [
        (MemoryKind::Device, 2),
        (MemoryKind::Pinned, 3),
        (MemoryKind::Registered, 3),
        (MemoryKind::Managed, 13),
    ] {
        let t = DlpackTensor::new(fake(kind, 80 * 3000 * 4), DataType::F32, &[80, 3000], None, 0).unwrap();
        assert_eq!(t.tensor().device.device_type, code, "{kind:?}");
        assert_eq!(t.tensor().device.device_id, 0);
        assert_eq!(t.tensor().data as usize as u64, 0x7f00_0000_0000);
        assert_eq!(t.shape(), &[80, 3000]);
        // Dropping runs the deleter, which drops the fake owner.
        drop(t);
    }
    assert_eq!(MemoryKind::Device.dlpack_device(3).device_id, 3);
}

#[test]
fn registration_checks_run_before_any_driver_call() {
    // Page-aligned host memory passes.
    let ok = AlignedBuf::zeroed_aligned(3 * PAGE, PAGE_ALIGN).unwrap();
    let (addr, len) = check_registrable(&ok).unwrap();
    assert_eq!(addr, ok.as_ptr() as usize);
    assert_eq!(len, 3 * PAGE);

    // A page-aligned pool guard passes.
    let pool = Pool::builder().align(PAGE_ALIGN).build().unwrap();
    let g = pool.acquire(80 * 3000 * 4).unwrap();
    assert!(check_registrable(&g).is_ok());

    // 64-byte aligned host memory that is not on a page boundary fails.
    let big = AlignedBuf::zeroed_aligned(2 * PAGE, 64).unwrap();
    let slice = &big[64..64 + PAGE];
    match check_registrable(slice) {
        Err(CudaError::Buffer(BufferError::Misaligned {
            addr, required, actual, ..
        })) => {
            assert_eq!(required, 4096);
            assert_eq!(addr, big.as_ptr() as usize + 64);
            // whatever the allocator gave: the address's own alignment, below a page
            assert_eq!(actual, zc_buffers::addr_alignment(addr));
            assert!((64..4096).contains(&actual), "{actual}");
        }
        other => panic!("expected Misaligned, got {other:?}"),
    }

    // Empty, device and already-pinned memory fail.
    let empty = AlignedBuf::zeroed_aligned(0, PAGE_ALIGN).unwrap();
    assert!(matches!(
        check_registrable(&empty),
        Err(CudaError::Buffer(BufferError::EmptyBuffer { .. }))
    ));
    assert!(matches!(
        check_registrable(&fake(MemoryKind::Pinned, 4096)),
        Err(CudaError::AlreadyPinned { .. })
    ));
    assert!(matches!(
        check_registrable(&fake(MemoryKind::Registered, 4096)),
        Err(CudaError::AlreadyPinned { .. })
    ));
    assert!(matches!(
        check_registrable(&fake(MemoryKind::Device, 4096)),
        Err(CudaError::Buffer(BufferError::NotHostAccessible { .. }))
    ));
}

#[test]
fn misaligned_registration_is_refused_even_without_a_driver() {
    let v = vec![7u8; 10_000];
    let (ptr, aligned) = (v.as_ptr(), (v.as_ptr() as usize).is_multiple_of(PAGE));
    let r = zc_cuda::Registered::new(v).unwrap_err();
    if aligned {
        // The allocator happened to give a page-aligned Vec: then the only
        // possible failures are the driver's (or none, with a GPU).
        assert!(!matches!(r.error, CudaError::Buffer(BufferError::Misaligned { .. })));
    } else {
        assert!(
            matches!(r.error, CudaError::Buffer(BufferError::Misaligned { .. })),
            "{:?}",
            r.error
        );
    }
    let back = r.into_value();
    assert_eq!(back.as_ptr(), ptr);
    assert!(back.iter().all(|&b| b == 7));
}

#[test]
fn option_flags_match_the_driver_constants() {
    use zc_cuda::cudarc::driver::sys;
    let d = PinnedOptions::default();
    assert!(!d.write_combined, "cached by default, not write-combined");
    assert_eq!(d.flags() & sys::CU_MEMHOSTALLOC_WRITECOMBINED, 0);
    assert_ne!(d.flags() & sys::CU_MEMHOSTALLOC_PORTABLE, 0);
    let wc = PinnedOptions {
        write_combined: true,
        portable: false,
    };
    assert_eq!(
        wc.flags() & sys::CU_MEMHOSTALLOC_WRITECOMBINED,
        sys::CU_MEMHOSTALLOC_WRITECOMBINED
    );
    assert_eq!(wc.flags() & sys::CU_MEMHOSTALLOC_PORTABLE, 0);

    let r = RegisterOptions::default();
    assert_ne!(r.flags() & sys::CU_MEMHOSTREGISTER_PORTABLE, 0);
    assert_ne!(r.flags() & sys::CU_MEMHOSTREGISTER_DEVICEMAP, 0);
    assert_eq!(r.flags() & sys::CU_MEMHOSTREGISTER_READ_ONLY, 0);
    let ro = RegisterOptions { read_only: true, ..r };
    assert_ne!(ro.flags() & sys::CU_MEMHOSTREGISTER_READ_ONLY, 0);
}

#[test]
fn alignment_constants() {
    assert_eq!(PAGE, 4096);
    assert_eq!(DEVICE_ALIGN, 256);
    assert!(DEVICE_ALIGN.is_power_of_two());
}
