//! User-pointer buffer objects (`NpuBuffer::wrap`) over zc host buffers,
//! against the fake XRT: no copy, the host memory outlives the BO, bad
//! pointers are refused and the buffer handed back.

mod support;

use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use support::{device, fake};
use zc_buffers::ledger;
use zc_buffers::{
    AlignedBuf, Buffer, BufferError, HostBuffer, HostBufferExt, HostBufferMut, HostBufferMutExt, MmapBufMut, Pool,
    Residency, SyncDirection,
};
use zc_npu::{BoFlags, NpuBuffer, NpuError};

#[test]
fn wrapping_a_page_aligned_buffer_registers_its_memory_without_copying() {
    let dev = device();
    let mut host = AlignedBuf::zeroed_aligned(3 * 4096, 4096).expect("host buffer");
    host.as_slice_mut::<f32>().expect("slice").fill(0.5);
    let addr = host.as_ptr() as usize;
    let (bo, report) = ledger::scope(|| NpuBuffer::wrap(&dev, host).expect("wrap"));
    assert_eq!(report.copies, 0, "{report}");
    assert_eq!(report.allocations, 0, "{report}");
    let mut bo = bo;
    assert!(bo.is_user_ptr());
    assert_eq!(bo.len(), 3 * 4096);
    assert_eq!(bo.align(), 4096);
    assert_eq!(bo.residency(), Residency::NpuBufferObject);
    assert_eq!(
        bo.host_ptr().map(|p| p.as_ptr() as usize),
        Some(addr),
        "the mapping is the host memory"
    );
    assert_eq!(bo.as_slice::<f32>().expect("slice")[100], 0.5);
    assert!(bo.device_ptr().is_some());

    // The NPU's output lands in the caller's memory.
    let ((), report) = ledger::scope(|| {
        bo.sync(SyncDirection::ToDevice, 0..16).expect("to device");
        fake().device_write(&bo, 8, &2.0f32.to_le_bytes());
        bo.sync(SyncDirection::FromDevice, 8..12).expect("from device");
    });
    assert_eq!(report.copies, 0);
    let back = bo.into_host();
    assert_eq!(back.as_ptr() as usize, addr);
    assert_eq!(back.as_slice::<f32>().expect("slice")[..4], [0.5, 0.5, 2.0, 0.5]);

    let log = fake().log(&dev);
    assert_eq!(
        log[1..],
        [
            format!("alloc_userptr bo=1 ptr={addr:#x} size=12288 flags=0x20000000 group=0"),
            "sync bo=1 dir=to_device size=16 offset=0".to_string(),
            "sync bo=1 dir=from_device size=4 offset=8".to_string(),
            "free bo=1".to_string(),
        ],
        "no xrtBOMap: a user-pointer BO's mapping is the user memory"
    );
}

#[test]
fn a_page_aligned_pool_buffer_wraps_and_returns_to_its_pool() {
    let dev = device();
    let pool = Pool::builder().name("host").align(4096).build().expect("pool");
    let mut guard = pool.acquire(64 * 1024).expect("acquire");
    guard.as_slice_mut::<u16>().expect("slice").fill(3);
    let bo = NpuBuffer::wrap(&dev, guard).expect("wrap a pool guard");
    assert_eq!(bo.len(), 64 * 1024);
    assert_eq!(pool.stats().in_use, 1);
    drop(bo);
    assert_eq!(fake().live_bos(&dev), 0);
    assert_eq!(
        pool.stats().in_use,
        0,
        "the guard went back to the pool after the BO was freed"
    );
    let again = pool.acquire(64 * 1024).expect("reacquire");
    assert_eq!(pool.stats().hits, 1);
    drop(again);
}

#[test]
fn a_file_mapping_wraps() {
    let dev = device();
    let dir = tempfile::tempdir().expect("tempdir");
    // SAFETY: the temp file is ours alone while mapped.
    let mut map = unsafe { MmapBufMut::create(dir.path().join("tensor.bin"), 2 * 4096) }.expect("mmap");
    map.as_bytes_mut()[0] = 42;
    let mut bo = NpuBuffer::wrap(&dev, map).expect("wrap an mmap");
    bo.sync(SyncDirection::ToDevice, 0..1).expect("sync");
    assert_eq!(fake().device_read(&bo, 0, 1), [42]);
    let map = bo.into_host();
    assert_eq!(map.as_bytes()[0], 42);
}

/// A host buffer whose bytes start 64 bytes into a page: never page aligned.
struct Offset64 {
    buf: AlignedBuf,
}

// SAFETY: the bytes live in the AlignedBuf's heap allocation, which moving
// an Offset64 does not move.
unsafe impl zc_buffers::StableBytes for Offset64 {}

// SAFETY: the owned AlignedBuf's bytes from offset 64 on (`as_bytes`).
unsafe impl Buffer for Offset64 {
    fn len(&self) -> usize {
        self.buf.len() - 64
    }
    fn align(&self) -> usize {
        64
    }
    fn residency(&self) -> Residency {
        Residency::Heap
    }
    fn host_ptr(&self) -> Option<NonNull<u8>> {
        NonNull::new(self.as_bytes().as_ptr().cast_mut())
    }
}
impl HostBuffer for Offset64 {
    fn as_bytes(&self) -> &[u8] {
        &self.buf.as_bytes()[64..]
    }
}
impl HostBufferMut for Offset64 {
    fn as_bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf.as_bytes_mut()[64..]
    }
}

#[test]
fn unaligned_memory_is_refused_and_handed_back() {
    let dev = device();
    let mut host = Offset64 {
        buf: AlignedBuf::zeroed_aligned(8192, 4096).expect("buf"),
    };
    host.as_bytes_mut()[0] = 77;
    let addr = host.as_bytes().as_ptr() as usize;
    let err = NpuBuffer::wrap(&dev, host).unwrap_err();
    match err.error.as_buffer_error() {
        Some(BufferError::Misaligned {
            addr: a,
            required,
            actual,
            ..
        }) => {
            assert_eq!(*a, addr);
            assert_eq!(*required, 4096);
            assert_eq!(*actual, 64);
        }
        other => panic!("expected Misaligned, got {other:?}"),
    }
    assert!(err.to_string().contains("4096"), "{err}");
    assert!(format!("{err:?}").contains("Misaligned"));
    let host = err.into_value();
    assert_eq!(host.as_bytes()[0], 77, "the buffer comes back untouched");
    assert_eq!(fake().log(&dev), ["open index=0"], "nothing reached XRT");

    // A default (64-byte aligned) pool guard of an odd size: refused unless
    // it happens to sit on a page boundary.
    let pool = Pool::builder().build().expect("pool");
    let mut g = pool.acquire(100).expect("acquire");
    let aligned = (g.as_bytes_mut().as_ptr() as usize).is_multiple_of(4096);
    let r = NpuBuffer::wrap(&dev, g);
    assert_eq!(r.is_ok(), aligned);
}

#[test]
fn empty_buffers_and_bad_flags_are_refused_before_xrt() {
    let dev = device();
    let empty = AlignedBuf::zeroed_aligned(0, 4096).expect("empty");
    let e = NpuBuffer::wrap(&dev, empty).unwrap_err();
    assert!(matches!(
        e.error.as_buffer_error(),
        Some(BufferError::EmptyBuffer { .. })
    ));
    let host = AlignedBuf::zeroed_aligned(4096, 4096).expect("buf");
    let e = NpuBuffer::wrap_with(&dev, host, BoFlags::DEVICE_ONLY, 0).unwrap_err();
    assert!(matches!(e.error, NpuError::UnsupportedFlags { .. }));
    let host = e.into_value();
    let e = NpuBuffer::wrap_with(&dev, host, BoFlags::P2P, 0).unwrap_err();
    assert!(matches!(e.error, NpuError::UnsupportedFlags { .. }));
    // `?` turns a Rejected into an NpuError or a BufferError.
    fn wrap_npu(dev: &zc_npu::NpuDevice, host: AlignedBuf) -> Result<(), NpuError> {
        let _bo = NpuBuffer::wrap_with(dev, host, BoFlags::NONE, 0)?;
        Ok(())
    }
    fn wrap_zc(dev: &zc_npu::NpuDevice, host: AlignedBuf) -> zc_buffers::Result<()> {
        let _bo = NpuBuffer::wrap_with(dev, host, BoFlags::SVM, 0)?;
        Ok(())
    }
    let host = e.into_value();
    assert!(matches!(
        wrap_npu(&dev, host.clone()),
        Err(NpuError::UnsupportedFlags { .. })
    ));
    assert!(matches!(
        wrap_zc(&dev, host),
        Err(zc_buffers::BufferError::Backend { backend: "xrt", .. })
    ));
    assert_eq!(fake().log(&dev), ["open index=0"]);
}

#[test]
fn an_xrt_refusal_hands_the_buffer_back() {
    let dev = device();
    let mut host = AlignedBuf::zeroed_aligned(4096, 4096).expect("buf");
    host[5] = 9;
    fake().fail_next(&dev, "alloc_userptr", 1);
    let err = NpuBuffer::wrap(&dev, host).unwrap_err();
    assert!(matches!(
        err.error,
        NpuError::Xrt {
            call: "xrtBOAllocUserPtr",
            code: 1
        }
    ));
    let host = err.into_value();
    assert_eq!(host[5], 9);
    let std_err: &dyn std::error::Error = &NpuBuffer::wrap(&dev, AlignedBuf::zeroed_aligned(0, 4096).expect("e"))
        .err()
        .map(|e| e.error)
        .expect("zero size");
    assert!(std_err.to_string().contains("zero"));
    // The same memory wraps once XRT accepts it.
    let bo = NpuBuffer::wrap(&dev, host).expect("wrap");
    assert_eq!(bo.as_bytes()[5], 9);
}

/// A host buffer that records, when it is dropped, how many BOs were still
/// alive on the device: the BO must be freed before its memory goes.
struct DropProbe {
    buf: AlignedBuf,
    dev: usize,
    seen_live: Arc<AtomicI64>,
}

// SAFETY: the bytes are the owned AlignedBuf's heap allocation, which does
// not move when a DropProbe moves.
unsafe impl zc_buffers::StableBytes for DropProbe {}

// SAFETY: forwards to the AlignedBuf it owns.
unsafe impl Buffer for DropProbe {
    fn len(&self) -> usize {
        self.buf.len()
    }
    fn align(&self) -> usize {
        self.buf.align()
    }
    fn residency(&self) -> Residency {
        Residency::Heap
    }
    fn host_ptr(&self) -> Option<NonNull<u8>> {
        self.buf.host_ptr()
    }
}
impl HostBuffer for DropProbe {
    fn as_bytes(&self) -> &[u8] {
        self.buf.as_bytes()
    }
}
impl HostBufferMut for DropProbe {
    fn as_bytes_mut(&mut self) -> &mut [u8] {
        self.buf.as_bytes_mut()
    }
}
impl Drop for DropProbe {
    fn drop(&mut self) {
        let live = fake().live_bos_raw(self.dev as *mut std::ffi::c_void);
        self.seen_live.store(live, Ordering::SeqCst);
    }
}

#[test]
fn the_bo_is_freed_before_the_host_memory_is_dropped() {
    let dev = device();
    let seen = Arc::new(AtomicI64::new(-1));
    let probe = DropProbe {
        buf: AlignedBuf::zeroed_aligned(4096, 4096).expect("buf"),
        dev: dev.as_raw() as usize,
        seen_live: seen.clone(),
    };
    let bo = NpuBuffer::wrap(&dev, probe).expect("wrap");
    assert_eq!(fake().live_bos(&dev), 1);
    drop(bo);
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "the BO was already freed when the host buffer dropped"
    );
}

#[test]
fn a_wrapped_buffer_can_move_between_threads() {
    let dev = device();
    let host = AlignedBuf::zeroed_aligned(4096, 4096).expect("buf");
    let mut bo = NpuBuffer::wrap(&dev, host).expect("wrap");
    let h = std::thread::spawn(move || {
        bo.as_bytes_mut()[0] = 1;
        bo.sync(SyncDirection::ToDevice, 0..1).expect("sync");
        bo
    });
    let bo = h.join().expect("thread");
    assert_eq!(fake().device_read(&bo, 0, 1), [1]);
}
