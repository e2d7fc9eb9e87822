//! The simulated driver's strict checks, failure injection and device
//! models, each test in its own child process against `tests/fake_cuda.c`
//! (see `tests/support`). Every hazard the simulator checks is provoked
//! once on purpose through raw driver calls and must be detected; next to
//! it, zc-cuda's own API is shown to avoid it (or to report it as an error).

mod support;

use std::time::Duration;

use cudarc::driver::{CudaContext, sys};
use support::{fake, simulated};
use zc_buffers::ledger::{self, CopyKind};
use zc_buffers::{AlignedBuf, Buffer, HostBuffer, HostBufferMut, PAGE_ALIGN};
use zc_cuda::{CudaDevice, CudaError, DeviceBuffer, DeviceMemory, Location, Registered};

use sys::CUresult::{CUDA_ERROR_ILLEGAL_STATE, CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_NOT_SUPPORTED, CUDA_SUCCESS};

const N: usize = 4 * 4096;

fn dev() -> CudaDevice {
    CudaDevice::new(0).expect("simulated device 0")
}

fn pattern(n: usize) -> AlignedBuf {
    let mut b = AlignedBuf::zeroed_aligned(n, PAGE_ALIGN).unwrap();
    for (i, x) in b.iter_mut().enumerate() {
        *x = (i * 7 % 253) as u8;
    }
    b
}

fn raw(s: &zc_cuda::Stream) -> sys::CUstream {
    s.cuda_stream().cu_stream()
}

/// Resume the paused simulator from another thread after a while, so a
/// blocking call made meanwhile has to wait for the queued work.
fn resume_later() -> std::thread::JoinHandle<()> {
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(50));
        fake().pause(false);
    })
}

#[test]
fn freeing_memory_a_queued_copy_uses_is_refused_and_counted() {
    if !simulated("freeing_memory_a_queued_copy_uses_is_refused_and_counted", &[]) {
        return;
    }
    let dev = dev();
    let stream = dev.new_stream().unwrap();
    let mut src = dev.alloc_pinned(N).unwrap();
    src.as_bytes_mut().fill(7);
    let gpu = dev.alloc(N).unwrap();
    fake().pause(true);
    // SAFETY: a live pinned allocation and a live device allocation of N
    // bytes each; both outlive the stream synchronisation below.
    let rc = unsafe { sys::cuMemcpyHtoDAsync_v2(gpu.dptr(), src.as_bytes().as_ptr().cast(), N, raw(&stream)) };
    assert_eq!(rc, CUDA_SUCCESS);
    // SAFETY: the simulator refuses to free memory a queued copy still uses
    // (what this test checks), so `gpu` stays allocated.
    let rc = unsafe { sys::cuMemFree_v2(gpu.dptr()) };
    assert_eq!(rc, CUDA_ERROR_ILLEGAL_STATE);
    // SAFETY: as above, for the pinned source.
    let rc = unsafe { sys::cuMemFreeHost(src.as_bytes().as_ptr().cast_mut().cast()) };
    assert_eq!(rc, CUDA_ERROR_ILLEGAL_STATE);
    assert_eq!(fake().count("free_in_use"), 2);
    fake().pause(false);
    stream.synchronize().unwrap();
    let mut back = vec![0u8; N];
    stream.copy_dtoh(&gpu, &mut back).unwrap();
    assert!(back.iter().all(|&b| b == 7));
    drop((gpu, src));
    assert_eq!(fake().count("free_in_use"), 2);
    assert_eq!(fake().count("double_free"), 0);
    assert_eq!(fake().count("live_allocations"), 0);
}

#[test]
fn a_pending_copy_keeps_its_buffers_until_the_copy_completed() {
    if !simulated("a_pending_copy_keeps_its_buffers_until_the_copy_completed", &[]) {
        return;
    }
    let dev = dev();
    let stream = dev.new_stream().unwrap();
    let mut src = dev.alloc_pinned(N).unwrap();
    src.as_bytes_mut().fill(3);
    let gpu = dev.alloc(N).unwrap();
    fake().pause(true);
    let pending = stream.upload(src, gpu).unwrap();
    assert!(
        !pending.is_complete().unwrap(),
        "the copy runs later, on the stream's worker"
    );
    let t = resume_later();
    // Dropping waits for the copy's end event before freeing both buffers.
    drop(pending);
    t.join().unwrap();
    assert_eq!(fake().count("free_in_use"), 0);
    assert_eq!(fake().count("host_touched"), 0);
    assert_eq!(fake().count("live_allocations"), 0);
}

#[test]
fn unregistering_memory_a_queued_copy_uses_is_refused_and_counted() {
    if !simulated("unregistering_memory_a_queued_copy_uses_is_refused_and_counted", &[]) {
        return;
    }
    let dev = dev();
    let stream = dev.new_stream().unwrap();
    let reg = Registered::with_device(&dev, pattern(N)).unwrap();
    let gpu = dev.alloc(N).unwrap();
    let p = reg.as_bytes().as_ptr();
    fake().pause(true);
    // SAFETY: registered host memory and a device allocation of N bytes,
    // both alive until after the synchronisation below.
    let rc = unsafe { sys::cuMemcpyHtoDAsync_v2(gpu.dptr(), p.cast(), N, raw(&stream)) };
    assert_eq!(rc, CUDA_SUCCESS);
    // SAFETY: refused by the simulator while the copy is queued.
    let rc = unsafe { sys::cuMemHostUnregister(p.cast_mut().cast()) };
    assert_eq!(rc, CUDA_ERROR_ILLEGAL_STATE);
    assert_eq!(fake().count("unregister_in_use"), 1);
    fake().pause(false);
    stream.synchronize().unwrap();
    // zc-cuda's own unregister, after the copy: accepted, buffer back.
    let buf = reg.unregister().unwrap();
    assert_eq!(buf.as_ptr(), p);
    assert_eq!(fake().count("unregister_in_use"), 1);
    assert_eq!(fake().count("double_free"), 0);
}

#[test]
fn an_async_upload_from_pageable_memory_is_detected() {
    if !simulated("an_async_upload_from_pageable_memory_is_detected", &[]) {
        return;
    }
    let dev = dev();
    let stream = dev.new_stream().unwrap();
    let src = pattern(N);
    let expect = src.to_vec();
    // The synchronous copy from pageable memory waits: allowed.
    let mut gpu = dev.alloc(N).unwrap();
    stream.copy_htod(&src, &mut gpu).unwrap();
    assert_eq!(fake().count("pageable_async"), 0);
    // The hazard itself, provoked through the raw driver API: an "async"
    // copy from pageable memory, which the simulator flags.
    // SAFETY: `src` (N bytes) and `gpu` (N bytes) are live until the
    // synchronisation right after.
    // More work is queued behind it before any synchronisation: flagged.
    let rc = unsafe { sys::cuMemcpyHtoDAsync_v2(gpu.dptr(), src.as_bytes().as_ptr().cast(), N, raw(&stream)) };
    assert_eq!(rc, CUDA_SUCCESS);
    let marker = stream.record_event(false).unwrap();
    stream.synchronize().unwrap();
    drop(marker);
    assert_eq!(fake().count("pageable_async"), 1);
    // zc-cuda's upload refuses pageable memory and hands both buffers back.
    let r = stream.upload(src, gpu).unwrap_err();
    assert!(
        matches!(
            r.error,
            CudaError::Pageable {
                residency: zc_buffers::Residency::Heap,
                ..
            }
        ),
        "{:?}",
        r.error
    );
    let (src, gpu) = r.into_value();
    assert_eq!(fake().count("pageable_async"), 1, "nothing was queued");
    let mut back = vec![0u8; N];
    stream.copy_dtoh(&gpu, &mut back).unwrap();
    assert_eq!(back, expect);
    // From registered memory the same upload is accepted and clean.
    let reg = Registered::with_device(&dev, src).unwrap();
    let done = stream.upload(reg, gpu).unwrap().wait().unwrap();
    assert_eq!(fake().count("pageable_async"), 1);
    drop(done);
}

#[test]
fn touching_a_host_buffer_under_a_queued_copy_is_detected() {
    if !simulated("touching_a_host_buffer_under_a_queued_copy_is_detected", &[]) {
        return;
    }
    let dev = dev();
    let stream = dev.new_stream().unwrap();
    let mut src = dev.alloc_pinned(N).unwrap();
    src.as_bytes_mut().fill(1);
    let gpu = dev.alloc(N).unwrap();
    fake().pause(true);
    // SAFETY: live pinned and device allocations of N bytes, kept until the
    // synchronisation below.
    let rc = unsafe { sys::cuMemcpyHtoDAsync_v2(gpu.dptr(), src.as_bytes().as_ptr().cast(), N, raw(&stream)) };
    assert_eq!(rc, CUDA_SUCCESS);
    // What zc-cuda's upload makes impossible (it owns `src` until done).
    src.as_bytes_mut()[100] = 2;
    fake().pause(false);
    stream.synchronize().unwrap();
    assert_eq!(fake().count("host_touched"), 1);
    // Through zc-cuda: the buffer is moved into the PendingCopy.
    let done = stream.upload(src, gpu).unwrap().wait().unwrap();
    assert_eq!(fake().count("host_touched"), 1);
    drop(done);
}

#[test]
fn a_missing_synchronisation_shows_up_as_stale_data() {
    if !simulated("a_missing_synchronisation_shows_up_as_stale_data", &[]) {
        return;
    }
    let dev = dev();
    let stream = dev.new_stream().unwrap();
    let mut gpu = dev.alloc(N).unwrap();
    stream.copy_htod(&vec![9u8; N], &mut gpu).unwrap();
    let mut out = dev.alloc_pinned(N).unwrap();
    fake().pause(true);
    // SAFETY: live allocations of N bytes; `out` is not read through Rust
    // until after the synchronisation, except for the check below, which
    // reads bytes the paused copy has not written yet.
    let rc = unsafe { sys::cuMemcpyDtoHAsync_v2(out.as_bytes_mut().as_mut_ptr().cast(), gpu.dptr(), N, raw(&stream)) };
    assert_eq!(rc, CUDA_SUCCESS);
    assert!(
        out.as_bytes().iter().all(|&b| b == 0),
        "not copied before the stream ran"
    );
    fake().pause(false);
    stream.synchronize().unwrap();
    assert!(out.as_bytes().iter().all(|&b| b == 9));
}

#[test]
fn double_free_is_detected() {
    if !simulated("double_free_is_detected", &[]) {
        return;
    }
    let dev = dev();
    dev.context().bind_to_thread().unwrap();
    let mut p: sys::CUdeviceptr = 0;
    // SAFETY: writes one device pointer.
    assert_eq!(unsafe { sys::cuMemAlloc_v2(&mut p, 4096) }, CUDA_SUCCESS);
    // SAFETY: `p` is a live allocation, freed once here.
    assert_eq!(unsafe { sys::cuMemFree_v2(p) }, CUDA_SUCCESS);
    // SAFETY: the simulator recognises the freed address; nothing is freed.
    assert_eq!(unsafe { sys::cuMemFree_v2(p) }, CUDA_ERROR_INVALID_VALUE);
    assert_eq!(fake().count("double_free"), 1);
}

#[test]
fn leaks_are_reported_when_the_primary_context_is_released() {
    if !simulated("leaks_are_reported_when_the_primary_context_is_released", &[]) {
        return;
    }
    let ctx = CudaContext::new(0).unwrap();
    let mut d: sys::CUdeviceptr = 0;
    let mut h: *mut std::ffi::c_void = std::ptr::null_mut();
    // SAFETY: each writes one pointer; both allocations are leaked on purpose.
    unsafe {
        assert_eq!(sys::cuMemAlloc_v2(&mut d, 1000), CUDA_SUCCESS);
        assert_eq!(sys::cuMemHostAlloc(&mut h, 2000, 0), CUDA_SUCCESS);
    }
    assert_eq!(fake().count("leaked"), 0);
    drop(ctx);
    assert_eq!(fake().count("leaked"), 2);
    let log = fake().log();
    assert!(
        log.contains("device memory") && log.contains("(1000 bytes) still allocated"),
        "{log}"
    );
    assert!(
        log.contains("pinned memory") && log.contains("(2000 bytes) still allocated"),
        "{log}"
    );
    // zc-cuda's own buffers are all returned before their context goes.
    let dev = dev();
    let a = dev.alloc_zeroed(N).unwrap();
    let b = dev.alloc_pinned(N).unwrap();
    let r = Registered::with_device(&dev, pattern(N)).unwrap();
    drop((a, b, r, dev));
    assert_eq!(fake().count("leaked"), 2);
}

#[test]
fn memory_of_another_context_is_refused() {
    if !simulated("memory_of_another_context_is_refused", &[("FAKE_CUDA_DEVICES", "2")]) {
        return;
    }
    let d0 = CudaDevice::new(0).unwrap();
    let d1 = CudaDevice::new(1).unwrap();
    let a = d0.alloc_zeroed(N).unwrap();
    let mut b = d1.alloc(N).unwrap();
    // zc-cuda refuses before the driver sees it.
    let e = d1.stream().copy_dtod(&a, &mut b).unwrap_err();
    assert!(matches!(e, CudaError::WrongDevice { .. }), "{e:?}");
    assert_eq!(fake().count("wrong_context"), 0);
    // The raw call is refused and counted by the simulator.
    d1.context().bind_to_thread().unwrap();
    // SAFETY: both are live allocations of N bytes; the simulator refuses
    // the copy, so nothing is written.
    let rc = unsafe { sys::cuMemcpyDtoDAsync_v2(b.dptr(), a.dptr(), N, raw(d1.stream())) };
    assert_eq!(rc, CUDA_ERROR_INVALID_VALUE);
    assert_eq!(fake().count("wrong_context"), 1);
}

#[test]
fn device_pointers_are_not_host_addressable() {
    if !simulated("device_pointers_are_not_host_addressable", &[]) {
        return;
    }
    let dev = dev();
    let gpu = dev.alloc(N).unwrap();
    assert!(gpu.host_ptr().is_none());
    let addr = gpu.dptr();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let perms = maps
        .lines()
        .find_map(|l| {
            let (range, rest) = l.split_once(' ')?;
            let (lo, hi) = range.split_once('-')?;
            let (lo, hi) = (u64::from_str_radix(lo, 16).ok()?, u64::from_str_radix(hi, 16).ok()?);
            (lo <= addr && addr < hi).then(|| rest[..4].to_string())
        })
        .expect("the device address range is reserved in the address space");
    assert_eq!(perms, "---p", "a CPU access to a device pointer must fault");
    // Managed and pinned memory are host-addressable (unified addressing).
    let m = dev.alloc_managed(N).unwrap();
    assert!(m.as_bytes().iter().all(|&b| b == 0));
}

#[test]
fn the_release_threshold_keeps_freed_pool_memory_reserved() {
    if !simulated("the_release_threshold_keeps_freed_pool_memory_reserved", &[]) {
        return;
    }
    let dev = dev();
    let stream = dev.new_stream().unwrap();
    let reserved = || {
        let mut pool: sys::CUmemoryPool = std::ptr::null_mut();
        let mut v: u64 = 0;
        // SAFETY: writes one handle and one u64 (RESERVED_MEM_CURRENT is a cuuint64_t).
        unsafe {
            assert_eq!(sys::cuDeviceGetMemPool(&mut pool, 0), CUDA_SUCCESS);
            let attr = sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT;
            assert_eq!(
                sys::cuMemPoolGetAttribute(pool, attr, (&mut v as *mut u64).cast()),
                CUDA_SUCCESS
            );
        }
        v
    };
    zc_cuda::set_release_threshold(&dev, zc_cuda::KEEP_ALL).unwrap();
    drop(DeviceBuffer::alloc_async(&stream, &dev, 1 << 20).unwrap());
    stream.synchronize().unwrap();
    assert_eq!(reserved(), 1 << 20, "KEEP_ALL keeps freed memory in the pool");
    zc_cuda::set_release_threshold(&dev, 0).unwrap();
    assert_eq!(zc_cuda::release_threshold(&dev).unwrap(), 0);
    drop(DeviceBuffer::alloc_async(&stream, &dev, 1 << 20).unwrap());
    stream.synchronize().unwrap();
    assert_eq!(reserved(), 0, "threshold 0 returns it at synchronisation");
}

#[test]
fn allocation_failure_is_a_driver_error() {
    if !simulated(
        "allocation_failure_is_a_driver_error",
        &[("FAKE_CUDA_FAIL", "cuMemAlloc_v2:2")],
    ) {
        return;
    }
    let dev = dev();
    let first = dev.alloc(N).unwrap();
    let e = dev.alloc(N).unwrap_err();
    assert!(
        matches!(
            e,
            CudaError::Driver {
                call: "cuMemAlloc_v2",
                code: 2,
                ..
            }
        ),
        "{e:?}"
    );
    let third = dev.alloc(N).unwrap();
    assert_eq!(fake().count("injected"), 1);
    drop((first, third));
    fake().fail("cuMemHostAlloc", 1, 2);
    assert!(matches!(
        dev.alloc_pinned(N),
        Err(CudaError::Driver {
            call: "cuMemHostAlloc",
            ..
        })
    ));
    assert_eq!(fake().count("live_allocations"), 0);
}

#[test]
fn registration_failure_hands_the_buffer_back() {
    if !simulated(
        "registration_failure_hands_the_buffer_back",
        &[("FAKE_CUDA_FAIL", "cuMemHostRegister_v2:1")],
    ) {
        return;
    }
    let dev = dev();
    let buf = pattern(N);
    let (ptr, expect) = (buf.as_ptr(), buf.to_vec());
    let rejected = Registered::with_device(&dev, buf).unwrap_err();
    assert!(
        matches!(
            rejected.error,
            CudaError::Driver {
                call: "cuMemHostRegister_v2",
                ..
            }
        ),
        "{:?}",
        rejected.error
    );
    let buf = rejected.into_value();
    assert_eq!((buf.as_ptr(), &buf[..]), (ptr, &expect[..]));
    // The same buffer registers on the next try.
    let reg = Registered::with_device(&dev, buf).unwrap();
    assert_eq!(reg.unregister().unwrap().as_ptr(), ptr);
}

#[test]
fn copy_failure_hands_both_buffers_back_and_records_nothing() {
    if !simulated(
        "copy_failure_hands_both_buffers_back_and_records_nothing",
        &[("FAKE_CUDA_FAIL", "cuMemcpyHtoDAsync_v2:1=700")],
    ) {
        return;
    }
    let dev = dev();
    let stream = dev.new_stream().unwrap();
    let src = dev.alloc_pinned(N).unwrap();
    let gpu = dev.alloc(N).unwrap();
    let (r, report) = ledger::scope(|| stream.upload(src, gpu).err());
    let r = r.expect("the injected copy failure");
    assert!(
        matches!(
            r.error,
            CudaError::Driver {
                call: "cuMemcpyHtoDAsync_v2",
                code: 700,
                ..
            }
        ),
        "{:?}",
        r.error
    );
    assert_eq!(report.copies, 0);
    let (src, mut gpu) = r.into_value();
    // The synchronous path works again, and the ledger records it.
    let ((), report) = ledger::scope(|| stream.copy_htod(&src, &mut gpu).unwrap());
    assert_eq!(report.bytes_of(CopyKind::HostToDevice), N as u64);
}

#[test]
fn event_failures_are_errors_and_never_lose_the_buffers() {
    if !simulated(
        "event_failures_are_errors_and_never_lose_the_buffers",
        &[("FAKE_CUDA_FAIL", "cuEventRecord:1")],
    ) {
        return;
    }
    let dev = dev();
    let stream = dev.new_stream().unwrap();
    let mut src = dev.alloc_pinned(N).unwrap();
    src.as_bytes_mut().fill(5);
    let gpu = dev.alloc(N).unwrap();
    // The start event fails: nothing queued, both buffers back.
    let r = stream.upload(src, gpu).unwrap_err();
    assert!(
        matches!(
            r.error,
            CudaError::Driver {
                call: "cuEventRecord",
                ..
            }
        ),
        "{:?}",
        r.error
    );
    let (src, gpu) = r.into_value();
    // The end event fails (2nd record from now): the copy still completes,
    // waited for on the stream, untimed.
    fake().fail("cuEventRecord", 2, 999);
    let pending = stream.upload(src, gpu).unwrap();
    // Completion cannot be polled without the end event: an error, not a
    // `false` that would never turn `true`.
    assert!(matches!(
        pending.is_complete(),
        Err(CudaError::DriverUnusable {
            call: "cuEventRecord",
            ..
        })
    ));
    let done = pending.wait().unwrap();
    assert!(done.elapsed.is_none());
    let mut back = vec![0u8; N];
    stream.copy_dtoh(&done.dst, &mut back).unwrap();
    assert!(back.iter().all(|&b| b == 5));
    fake().fail("cuEventRecord", 1, 999);
    assert!(stream.record_event(true).is_err());
    assert_eq!(fake().count("injected"), 3);
}

#[test]
fn unknown_entry_points_fail_loudly() {
    if !simulated("unknown_entry_points_fail_loudly", &[]) {
        return;
    }
    let dev = dev();
    // SAFETY: cuCtxPushCurrent_v2 takes a context handle; the simulator
    // does not implement it and returns NOT_SUPPORTED without touching it.
    let rc = unsafe { sys::cuCtxPushCurrent_v2(dev.context().cu_ctx()) };
    assert_eq!(rc, CUDA_ERROR_NOT_SUPPORTED);
    assert_eq!(fake().count("unsupported"), 1);
    assert!(fake().log().contains("UNSUPPORTED cuCtxPushCurrent_v2"));
}

#[test]
fn devices_without_managed_memory_or_pools_and_old_drivers() {
    if !simulated(
        "devices_without_managed_memory_or_pools_and_old_drivers",
        &[("FAKE_CUDA_POOLS", "0"), ("FAKE_CUDA_MANAGED", "0")],
    ) {
        return;
    }
    let dev = dev();
    assert!(!dev.caps().managed_memory && !dev.caps().memory_pools);
    assert!(matches!(
        dev.alloc_managed(N),
        Err(CudaError::ManagedUnsupported { .. })
    ));
    // The device pool falls back to cuMemAlloc.
    let pool = dev.pool_builder().name("no-pools").cap_bytes(1 << 20).build().unwrap();
    let g = pool.acquire(N).unwrap();
    assert_eq!(fake().calls("cuMemAllocAsync"), 0);
    assert!(fake().calls("cuMemAlloc_v2") >= 1);
    drop(g);
}

#[test]
fn drivers_before_12_2_get_the_v1_unified_memory_calls() {
    if !simulated(
        "drivers_before_12_2_get_the_v1_unified_memory_calls",
        &[("FAKE_CUDA_VERSION", "12000")],
    ) {
        return;
    }
    let dev = dev();
    let m = dev.alloc_managed(N).unwrap();
    m.advise(zc_cuda::ManagedAdvice::SetPreferredLocation(Location::Host))
        .unwrap();
    m.prefetch(Location::Device, dev.stream()).unwrap();
    dev.stream().synchronize().unwrap();
    assert_eq!(fake().calls("cuMemAdvise"), 1);
    assert_eq!(fake().calls("cuMemPrefetchAsync"), 1);
    assert_eq!(
        fake().calls("cuMemAdvise_v2") + fake().calls("cuMemPrefetchAsync_v2"),
        0
    );
}
