//! AlignedBuf, Arena, MmapBuf/MmapBufMut, and the interop layers (DLPack,
//! bytes, Arrow): correct behaviour, clear errors, and no copies.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::DropCounted;

use zc_buffers::interop::dlpack::{DLPACK_FLAG_BITMASK_READ_ONLY, DataType, DlpackTensor};
use zc_buffers::{
    AlignedBuf, Arena, Buffer, BufferError, Device, HostBuffer, HostBufferExt, HostBufferMut, HostBufferMutExt,
    MmapBuf, MmapBufMut, MmapOptions, Residency, SyncDirection, ledger,
};

#[test]
fn aligned_buffers_honour_alignment_and_reject_bad_requests() {
    for align in [1, 8, 64, 4096, 1 << 16] {
        let b = AlignedBuf::zeroed_aligned(100, align).unwrap();
        assert_eq!(b.as_ptr() as usize % align, 0);
        assert_eq!(b.align(), align);
        assert!(b.iter().all(|&x| x == 0));
    }
    assert!(matches!(
        AlignedBuf::zeroed_aligned(10, 3),
        Err(BufferError::InvalidAlignment { align: 3 })
    ));
    assert!(matches!(
        AlignedBuf::zeroed_aligned(10, 0),
        Err(BufferError::InvalidAlignment { align: 0 })
    ));
    assert!(matches!(
        AlignedBuf::zeroed(usize::MAX - 10),
        Err(BufferError::TooLarge { .. })
    ));
    let empty = AlignedBuf::zeroed_aligned(0, 4096).unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.as_ptr() as usize % 4096, 0);
}

#[test]
fn uninit_buffers_are_initialised_before_reading() {
    let mut u = AlignedBuf::uninit(8).unwrap();
    for (i, b) in u.as_uninit_mut().iter_mut().enumerate() {
        b.write(i as u8);
    }
    // SAFETY: every byte was written above.
    let b = unsafe { u.init_with(|_| {}) };
    assert_eq!(&b[..], &[0, 1, 2, 3, 4, 5, 6, 7]);
    let padded = AlignedBuf::uninit(6).unwrap().copy_from(b"abc");
    assert_eq!(&padded[..], b"abc\0\0\0");
    let ((), r) = ledger::scope(|| {
        let c = AlignedBuf::copy_from_slice(b"xyz", 4096).unwrap();
        assert_eq!(c.as_ptr() as usize % 4096, 0);
        let _d = c.clone();
    });
    assert_eq!((r.copies, r.bytes_copied), (2, 6));
    assert_eq!(r.copies_of(zc_buffers::ledger::CopyKind::Realign), 2);
}

#[test]
fn sync_checks_its_range_and_is_a_noop_for_host_memory() {
    let mut b = AlignedBuf::zeroed(100).unwrap();
    b.sync(SyncDirection::ToDevice, 0..100).unwrap();
    b.sync(SyncDirection::FromDevice, 10..20).unwrap();
    assert!(matches!(
        b.sync(SyncDirection::ToDevice, 50..101),
        Err(BufferError::RangeOutOfBounds {
            start: 50,
            end: 101,
            len: 100
        })
    ));
    #[allow(clippy::reversed_empty_ranges)]
    let r = b.sync(SyncDirection::ToDevice, 20..10);
    assert!(r.is_err());
    assert_eq!(b.device(), Device::CPU);
    assert_eq!(b.device_ptr(), None);
}

#[test]
#[cfg_attr(
    miri,
    ignore = "Miri stops on an allocation larger than the host instead of returning null"
)]
fn arena_sizes_from_the_caller_are_fallible() {
    // 0.1 panicked inside bumpalo (capacity overflow) or aborted the process
    for bytes in [usize::MAX, usize::MAX / 2, isize::MAX as usize, 1 << 62] {
        assert!(
            matches!(Arena::with_capacity(bytes), Err(BufferError::AllocFailed { len, .. }) if len == bytes),
            "{bytes}"
        );
    }
    let arena = Arena::new();
    assert!(arena.alloc_slice_zeroed::<f64>(usize::MAX / 4).is_err());
    assert!(arena.alloc_slice_zeroed::<u8>(1 << 62).is_err());
    assert!(arena.alloc_buffer(1 << 62, 64).is_err());
    assert_eq!(arena.stats().allocations, 0, "failed requests are not counted");
}

#[test]
fn arena_aligns_counts_and_resets() {
    let mut arena = Arena::with_capacity(1 << 16).unwrap();
    let a: &mut [u8] = arena.alloc_slice_zeroed(3).unwrap();
    assert_eq!(a.as_ptr() as usize % 64, 0);
    let b: &mut [f32] = arena.alloc_slice_fill(10, 1.5).unwrap();
    assert_eq!(b.as_ptr() as usize % 64, 0);
    let c = arena.alloc_slice_copy(&[1u16, 2, 3]).unwrap();
    assert_eq!(c, &[1, 2, 3]);
    let mut buf = arena.alloc_buffer(1000, 4096).unwrap();
    assert_eq!(buf.align(), 4096);
    assert_eq!(buf.residency(), Residency::Arena);
    buf.as_slice_mut::<f32>().unwrap()[0] = 2.0;
    assert!(matches!(
        arena.alloc_buffer(8, 3),
        Err(BufferError::InvalidAlignment { .. })
    ));
    let s = arena.stats();
    assert_eq!(s.allocations, 4);
    assert_eq!(s.bytes_requested, 3 + 40 + 6 + 1000);
    assert!(s.bytes_used >= 1049 && s.bytes_reserved >= s.bytes_used);
    arena.reset();
    assert!(arena.alloc_slice_zeroed::<u64>(usize::MAX / 4).is_err());
    let s = arena.stats();
    assert_eq!((s.allocations, s.resets), (0, 1));
}

#[test]
fn mmap_round_trip_with_views_straight_over_the_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.f32");
    {
        // SAFETY: the temp file is ours alone while mapped.
        let mut w = unsafe { MmapBufMut::create(&path, 4096 * 3) }.unwrap();
        assert_eq!(w.residency(), Residency::Mmap);
        assert_eq!(w.align(), 4096);
        for (i, x) in w.as_slice_mut::<f32>().unwrap().iter_mut().enumerate() {
            *x = i as f32;
        }
        w.flush().unwrap();
        w.advise(zc_buffers::Advice::Sequential).unwrap();
    }
    let ((), r) = ledger::scope(|| {
        let m = MmapOptions::new()
            .advice(zc_buffers::Advice::Sequential)
            .populate(true)
            .open(&path)
            .unwrap();
        let v = m.as_slice::<f32>().unwrap();
        assert_eq!(v.len(), 3072);
        assert_eq!(v[3071], 3071.0);
        assert_eq!(v.as_ptr() as *const u8, m.host_ptr().unwrap().as_ptr() as *const u8);
        assert_eq!(m.as_ptr(), m.host_ptr().unwrap().as_ptr() as *const u8);
        let frames = m.view::<f32, _>((1024, 3), (3, 1)).unwrap();
        assert_eq!(frames[[1023, 2]], 3071.0);
    });
    assert_eq!(r.copies, 0);
    // an offset sub-range
    let m = MmapOptions::new().offset(4096).len(8).open(&path).unwrap();
    assert_eq!(m.as_slice::<f32>().unwrap(), &[1024.0, 1025.0]);
    // read-write re-open and read-only conversion without copying
    // SAFETY: no other mapping of the file is alive.
    let mut w = unsafe { MmapBufMut::open(&path) }.unwrap();
    w.as_bytes_mut()[0] = 9;
    let ro = w.into_read_only().unwrap();
    assert_eq!(ro.as_bytes()[0], 9);
}

#[test]
fn mmap_bad_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let e = MmapBuf::open(&missing).unwrap_err();
    assert!(matches!(&e, BufferError::Io { op: "open", .. }), "{e}");
    assert!(e.to_string().contains("missing"));

    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(MmapBuf::open(&empty), Err(BufferError::EmptyFile { .. })));
    assert!(matches!(
        // SAFETY: nothing maps the file.
        unsafe { MmapBufMut::create(&empty, 0) },
        Err(BufferError::EmptyFile { .. })
    ));

    let short = dir.path().join("short");
    std::fs::write(&short, [0u8; 100]).unwrap();
    let e = MmapOptions::new().offset(50).len(51).open(&short).unwrap_err();
    assert!(
        matches!(
            e,
            BufferError::FileTooShort {
                file_len: 100,
                offset: 50,
                end: 101,
                ..
            }
        ),
        "{e}"
    );
    assert!(matches!(
        MmapOptions::new().offset(100).open(&short),
        Err(BufferError::FileTooShort { .. })
    ));
    assert!(MmapOptions::new().offset(u64::MAX).len(2).open(&short).is_err());
}

#[test]
fn dlpack_keeps_the_owner_alive_until_the_deleter_runs_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut buf = AlignedBuf::zeroed(6 * 4).unwrap();
    buf.as_slice_mut::<f32>()
        .unwrap()
        .copy_from_slice(&[0., 1., 2., 3., 4., 5.]);
    let ptr = buf.as_ptr();
    let owner = DropCounted {
        buf,
        drops: drops.clone(),
    };
    let (t, r) = ledger::scope(|| DlpackTensor::new(owner, DataType::F32, &[2, 3], None, 0).unwrap());
    assert_eq!(r.copies, 0);
    let m = t.managed();
    assert_eq!((m.version.major, m.version.minor), (1, 0));
    assert_eq!(m.dl_tensor.data as *const u8, ptr);
    assert_eq!((m.dl_tensor.device.device_type, m.dl_tensor.device.device_id), (1, 0));
    assert_eq!(t.shape(), &[2, 3]);
    assert_eq!(t.strides(), Some(&[3i64, 1][..]));
    assert_eq!(t.view::<f32>().unwrap()[[1, 2]], 5.0);
    assert!(t.view::<f64>().is_err(), "dtype mismatch must be refused");
    // a consumer takes it and later calls the deleter
    let raw = t.into_raw();
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    // SAFETY: raw came from into_raw and is released exactly once here.
    unsafe {
        let deleter = (*raw).deleter.unwrap();
        deleter(raw);
    }
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
#[cfg_attr(miri, ignore = "maps a file (Miri has no file-backed mmap)")]
fn dlpack_strided_views_and_bad_views() {
    let buf = AlignedBuf::zeroed(80 * 3000 * 4).unwrap();
    // frame-major view of a mel-major buffer through strides
    let t = DlpackTensor::new(buf, DataType::F32, &[3000, 80], Some(&[1, 3000]), 0)
        .unwrap()
        .read_only();
    assert_eq!(t.managed().flags & DLPACK_FLAG_BITMASK_READ_ONLY, 1);
    assert_eq!(t.view::<f32>().unwrap().shape(), &[3000, 80]);
    drop(t);
    let small = AlignedBuf::zeroed(16).unwrap();
    assert!(matches!(
        DlpackTensor::new(small, DataType::F32, &[5], None, 0),
        Err(BufferError::OutOfBounds { .. })
    ));
    let small = AlignedBuf::zeroed(16).unwrap();
    assert!(matches!(
        DlpackTensor::new(small, DataType::F32, &[1], None, 2),
        Err(BufferError::Misaligned { .. })
    ));
    let small = AlignedBuf::zeroed(16).unwrap();
    assert!(DlpackTensor::new(small, DataType::F32, &[1], None, 17).is_err());
    let mm = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(mm.path(), [0u8; 64]).unwrap();
    let map = MmapBuf::open(mm.path()).unwrap();
    let t = DlpackTensor::from_host::<u8, _>(map, &[64]).unwrap().read_only();
    assert_eq!(t.view::<u8>().unwrap().len(), 64);
}

#[test]
fn bytes_and_arrow_share_memory() {
    let buf = AlignedBuf::copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8], 64).unwrap();
    let ptr = buf.as_ptr();
    let b = zc_buffers::interop::into_bytes(buf);
    assert_eq!(b.as_ptr(), ptr);

    let mut buf = AlignedBuf::zeroed(16).unwrap();
    buf.as_slice_mut::<i32>().unwrap().copy_from_slice(&[1, 2, 3, 4]);
    let ptr = buf.as_ptr();
    let ((arrow, slice), r) = ledger::scope(|| {
        let a = zc_buffers::interop::arrow::into_arrow_buffer(buf);
        let s = a.slice(4);
        (a, s)
    });
    assert_eq!(r.copies, 0);
    assert_eq!(arrow.as_ptr(), ptr);
    assert_eq!(arrow.typed_data::<i32>(), &[1, 2, 3, 4]);
    assert_eq!(slice.typed_data::<i32>(), &[2, 3, 4]);

    // a pool guard is an owner like any other (0.1: did not compile, the
    // guard was not RefUnwindSafe); its buffer returns when Arrow drops it
    let pool = zc_buffers::Pool::builder().cap_bytes(1 << 20).build().unwrap();
    let mut g = pool.acquire(16).unwrap();
    g.as_slice_mut::<i32>().unwrap().copy_from_slice(&[5, 6, 7, 8]);
    let gp = g.as_ptr();
    let arrow = zc_buffers::interop::arrow::into_arrow_buffer(g);
    assert_eq!((arrow.as_ptr(), arrow.typed_data::<i32>()), (gp, &[5, 6, 7, 8][..]));
    assert_eq!(pool.stats().in_use, 1);
    drop(arrow);
    assert_eq!(pool.stats().in_use, 0);
}

/// An owner that keeps its bytes inline: the tensor must point into the
/// owner where it finally lives (inside the managed tensor's allocation).
#[repr(C, align(64))]
struct Inline {
    bytes: [u8; 64],
    device_addr: Option<u64>,
}
// SAFETY: the inline bytes (valid until moved); a device address only with no
// host pointer (the test checks that the CPU device is then refused).
unsafe impl Buffer for Inline {
    fn len(&self) -> usize {
        64
    }
    fn align(&self) -> usize {
        64
    }
    fn residency(&self) -> Residency {
        Residency::Heap
    }
    fn host_ptr(&self) -> Option<std::ptr::NonNull<u8>> {
        match self.device_addr {
            Some(_) => None,
            None => std::ptr::NonNull::new(self.bytes.as_ptr().cast_mut()),
        }
    }
    fn device_ptr(&self) -> Option<u64> {
        self.device_addr
    }
}

#[test]
fn dlpack_points_into_the_owner_where_it_lives() {
    let mut bytes = [0u8; 64];
    bytes[5] = 42;
    let t = DlpackTensor::new(
        Inline {
            bytes,
            device_addr: None,
        },
        DataType::U8,
        &[64],
        None,
        0,
    )
    .unwrap();
    assert_eq!(t.view::<u8>().unwrap()[5], 42);
    // a device address on a buffer that says it lives on the CPU is refused
    let r = DlpackTensor::new(
        Inline {
            bytes,
            device_addr: Some(0x1000),
        },
        DataType::U8,
        &[64],
        None,
        0,
    );
    assert!(matches!(r, Err(BufferError::NotHostAccessible { .. })));
}

/// A buffer that needs cache maintenance, counting its syncs.
struct NeedsSync {
    buf: AlignedBuf,
    syncs: usize,
}

// SAFETY: forwards to the AlignedBuf it owns.
unsafe impl Buffer for NeedsSync {
    fn len(&self) -> usize {
        self.buf.len()
    }
    fn align(&self) -> usize {
        self.buf.align()
    }
    fn residency(&self) -> Residency {
        Residency::NpuBufferObject
    }
    fn host_ptr(&self) -> Option<std::ptr::NonNull<u8>> {
        self.buf.host_ptr()
    }
    fn sync(&mut self, _direction: SyncDirection, range: std::ops::Range<usize>) -> zc_buffers::Result<()> {
        zc_buffers::check_range(&range, self.len())?;
        self.syncs += 1;
        Ok(())
    }
}

/// Generic code that syncs whatever it is given.
fn flush<B: Buffer>(mut b: B) -> zc_buffers::Result<()> {
    let n = b.len();
    b.sync(SyncDirection::ToDevice, 0..n)
}

#[test]
fn wrappers_forward_sync_and_a_shared_reference_refuses_it() {
    let mut nb = NeedsSync {
        buf: AlignedBuf::zeroed(64).unwrap(),
        syncs: 0,
    };
    // 0.1: `&mut B` and `Box<B>` silently skipped the pointee's sync
    flush(&mut nb).unwrap();
    assert_eq!(nb.syncs, 1);
    let mut boxed = Box::new(nb);
    flush(&mut boxed).unwrap();
    assert_eq!(boxed.syncs, 2);
    let mut dynbox: Box<dyn Buffer> = boxed;
    flush(&mut dynbox).unwrap();
    let nb = &*dynbox;
    // `&B` cannot reach the pointee's `sync`: refused, not skipped
    assert!(matches!(
        flush(nb),
        Err(BufferError::SyncNeedsExclusive {
            residency: Residency::NpuBufferObject
        })
    ));
    // ranges are still checked first through every wrapper
    fn sync_range<B: Buffer>(mut b: B, range: std::ops::Range<usize>) -> zc_buffers::Result<()> {
        b.sync(SyncDirection::FromDevice, range)
    }
    assert!(matches!(
        sync_range(&mut dynbox, 0..65),
        Err(BufferError::RangeOutOfBounds { .. })
    ));
    // coherent memory through `&B` is fine
    let plain = AlignedBuf::zeroed(64).unwrap();
    flush(&plain).unwrap();
}
