//! GPU tests: allocation, every copy direction (sync and async), events,
//! registration in place, managed memory, the device pool and DLPack export
//! of real CUDA buffers. With a CUDA device they run against the real
//! driver; without one each test re-runs itself in a child process against
//! the strict simulated driver (`tests/fake_cuda.c`, see `tests/support`)
//! and also fails if the simulator counted a hazard or a leak.

mod support;

use zc_buffers::interop::dlpack::{DataType, DlpackTensor};
use zc_buffers::ledger::{self, CopyKind};
use zc_buffers::{
    AlignedBuf, Buffer, BufferError, HostBuffer, HostBufferExt, HostBufferMutExt, PAGE_ALIGN, Pool, Residency,
};
use zc_cuda::{CudaDevice, CudaError, DeviceBuffer, Location, ManagedAdvice, PinnedOptions, Registered};

const MEL: usize = 80 * 3000 * 4;

fn device(test: &str) -> Option<CudaDevice> {
    if !zc_cuda::available() {
        let why = zc_cuda::probe().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            !support::in_simulator(),
            "{test}: the simulated driver did not load ({why})"
        );
        // No CUDA device here: run this test against the simulated driver.
        support::run_in_child(test, &[]).assert_clean(test);
        println!("{test}: no CUDA device ({why}); passed against the simulated driver");
        return None;
    }
    match CudaDevice::new(0) {
        Ok(d) => Some(d),
        Err(e) => panic!("{test}: available() was true but CudaDevice::new(0) failed: {e}"),
    }
}

fn pattern(n: usize) -> AlignedBuf {
    let mut b = AlignedBuf::zeroed(n).unwrap();
    for (i, x) in b.iter_mut().enumerate() {
        *x = (i * 31 % 251) as u8;
    }
    b
}

#[test]
fn device_buffer_round_trip_records_two_copies() {
    let Some(dev) = device("device_buffer_round_trip_records_two_copies") else {
        return;
    };
    let src = pattern(MEL);
    let mut gpu = dev.alloc(MEL).unwrap();
    assert_eq!(gpu.residency(), Residency::Device);
    assert!(gpu.host_ptr().is_none());
    assert!(gpu.device_ptr().is_some());
    assert_eq!(gpu.device().device_type as i32, 2);
    assert_eq!(gpu.align(), 256);
    let mut back = AlignedBuf::zeroed(MEL).unwrap();
    let s = dev.stream();
    let ((), r) = ledger::scope(|| {
        s.copy_htod(&src, &mut gpu).unwrap();
        s.copy_dtoh(&gpu, &mut back).unwrap();
    });
    assert_eq!(&back[..], &src[..]);
    assert_eq!(r.copies, 2);
    assert_eq!(r.bytes_of(CopyKind::HostToDevice), MEL as u64);
    assert_eq!(r.bytes_of(CopyKind::DeviceToHost), MEL as u64);
}

#[test]
fn zeroed_allocations_are_zero() {
    let Some(dev) = device("zeroed_allocations_are_zero") else {
        return;
    };
    let gpu = dev.alloc_zeroed(4096 + 17).unwrap();
    let mut back = vec![1u8; 4096 + 17];
    dev.stream().copy_dtoh(&gpu, &mut back).unwrap();
    assert!(back.iter().all(|&b| b == 0));
    let pinned = dev.alloc_pinned(12345).unwrap();
    assert!(pinned.as_bytes().iter().all(|&b| b == 0));
}

#[test]
fn device_to_device_copy() {
    let Some(dev) = device("device_to_device_copy") else {
        return;
    };
    let src = pattern(1 << 20);
    let s = dev.stream();
    let mut a = dev.alloc(1 << 20).unwrap();
    let mut b = dev.alloc_zeroed(1 << 20).unwrap();
    s.copy_htod(&src, &mut a).unwrap();
    let ((), r) = ledger::scope(|| s.copy_dtod(&a, &mut b).unwrap());
    assert_eq!(r.copies_of(CopyKind::DeviceToDevice), 1);
    let mut back = AlignedBuf::zeroed(1 << 20).unwrap();
    s.copy_dtoh(&b, &mut back).unwrap();
    assert_eq!(&back[..], &src[..]);
}

#[test]
fn size_mismatch_leaves_everything_untouched() {
    let Some(dev) = device("size_mismatch_leaves_everything_untouched") else {
        return;
    };
    let src = pattern(1000);
    let mut gpu = dev.alloc_zeroed(1024).unwrap();
    let ((), r) = ledger::scope(|| {
        let e = dev.stream().copy_htod(&src, &mut gpu).unwrap_err();
        assert!(
            matches!(
                e,
                CudaError::Buffer(BufferError::LengthMismatch {
                    expected: 1000,
                    actual: 1024,
                })
            ),
            "{e:?}"
        );
    });
    assert_eq!(r.copies, 0);
    let mut back = vec![9u8; 1024];
    dev.stream().copy_dtoh(&gpu, &mut back).unwrap();
    assert!(back.iter().all(|&b| b == 0));
}

#[test]
fn pinned_is_cached_by_default_and_round_trips() {
    let Some(dev) = device("pinned_is_cached_by_default_and_round_trips") else {
        return;
    };
    let mut pinned = dev.alloc_pinned(MEL).unwrap();
    assert!(!pinned.options().write_combined);
    assert_eq!(pinned.residency(), Residency::PinnedHost);
    assert_eq!(pinned.device().device_type as i32, 3);
    assert_eq!(pinned.align(), PAGE_ALIGN);
    pinned.as_slice_mut::<f32>().unwrap().fill(1.25);
    let mut gpu = dev.alloc(MEL).unwrap();
    dev.stream().copy_htod(&pinned, &mut gpu).unwrap();
    let mut wc = zc_cuda::PinnedBuffer::alloc_with(
        &dev,
        MEL,
        PinnedOptions {
            write_combined: true,
            portable: true,
        },
    )
    .unwrap();
    dev.stream().copy_dtoh(&gpu, &mut wc).unwrap();
    assert!(wc.as_slice::<f32>().unwrap().iter().all(|&x| x == 1.25));
}

#[test]
fn registered_pool_buffer_uploads_in_place_and_unregisters() {
    let Some(dev) = device("registered_pool_buffer_uploads_in_place_and_unregisters") else {
        return;
    };
    let pool = Pool::builder().align(PAGE_ALIGN).build().unwrap();
    let mut mel = pool.acquire(MEL).unwrap();
    mel.as_slice_mut::<f32>().unwrap().fill(-3.0);
    let addr = mel.as_ptr();
    let reg = Registered::new(mel).unwrap();
    assert_eq!(reg.residency(), Residency::RegisteredHost);
    assert_eq!(reg.device().device_type as i32, 3);
    assert_eq!(reg.host_ptr().unwrap().as_ptr().cast_const(), addr);
    let dpool = dev.pool_builder().name("test").cap_bytes(16 << 20).build().unwrap();
    let gpu = dpool.acquire(MEL).unwrap();
    let stream = dev.new_stream().unwrap();
    let (pending, r) = ledger::scope(|| stream.upload(reg, gpu).unwrap());
    assert_eq!(r.copies_of(CopyKind::HostToDevice), 1);
    assert_eq!(r.bytes_of(CopyKind::HostToDevice), MEL as u64);
    let done = pending.wait().unwrap();
    assert!(done.elapsed.is_some());
    let mut back = AlignedBuf::zeroed(MEL).unwrap();
    stream.copy_dtoh(&done.dst, &mut back).unwrap();
    assert!(back.as_slice::<f32>().unwrap().iter().all(|&x| x == -3.0));
    let mel = done.src.unregister().unwrap();
    assert_eq!(mel.as_ptr(), addr);
    drop(mel);
    drop(done.dst);
    assert_eq!(pool.stats().in_use, 0);
    assert_eq!(dpool.stats().in_use, 0);
}

#[test]
fn registering_twice_is_a_driver_error_not_a_panic() {
    let Some(dev) = device("registering_twice_is_a_driver_error_not_a_panic") else {
        return;
    };
    let buf = AlignedBuf::zeroed_aligned(1 << 16, PAGE_ALIGN).unwrap();
    let reg = Registered::with_device(&dev, buf).unwrap();
    // The same pages again, through a borrowed view of them.
    let e = Registered::with_device(&dev, reg.as_bytes()).unwrap_err();
    assert!(matches!(e.error, CudaError::Driver { .. }), "{:?}", e.error);
}

#[test]
fn async_download_and_events() {
    let Some(dev) = device("async_download_and_events") else {
        return;
    };
    let stream = dev.new_stream().unwrap();
    let src = pattern(8 << 20);
    let mut gpu = dev.alloc(8 << 20).unwrap();
    stream.copy_htod(&src, &mut gpu).unwrap();
    let out = dev.alloc_pinned(8 << 20).unwrap();
    let start = stream.record_event(true).unwrap();
    let pending = stream.download(gpu, out).unwrap();
    let end = stream.record_event(true).unwrap();
    let done = pending.wait().unwrap();
    // `end` was recorded after the copy's own end event, so waiting for the
    // copy does not wait for it (the simulator's delayed stream caught this).
    end.synchronize().unwrap();
    assert!(end.is_complete().unwrap());
    assert!(start.elapsed(&end).unwrap() > std::time::Duration::ZERO);
    assert_eq!(done.dst.as_bytes(), &src[..]);
    assert!(done.bandwidth().unwrap() > 0.0);
}

#[test]
fn async_errors_hand_the_buffers_back() {
    let Some(dev) = device("async_errors_hand_the_buffers_back") else {
        return;
    };
    let host = pattern(100);
    let gpu = dev.alloc(128).unwrap();
    let r = dev.stream().upload(host, gpu).unwrap_err();
    assert!(matches!(r.error, CudaError::Buffer(BufferError::LengthMismatch { .. })));
    let (host, gpu) = r.into_value();
    assert_eq!(host.len(), 100);
    assert_eq!(gpu.len(), 128);
}

#[test]
fn managed_memory_prefetch_and_advice() {
    let Some(dev) = device("managed_memory_prefetch_and_advice") else {
        return;
    };
    if !dev.caps().managed_memory {
        let e = dev.alloc_managed(4096).unwrap_err();
        assert!(matches!(e, CudaError::ManagedUnsupported { .. }));
        println!("device has no managed memory; checked the error only");
        return;
    }
    let mut m = dev.alloc_managed(MEL).unwrap();
    assert_eq!(m.residency(), Residency::Managed);
    assert_eq!(m.device().device_type as i32, 13);
    assert!(m.as_bytes().iter().all(|&b| b == 0));
    m.as_slice_mut::<f32>().unwrap().fill(2.5);
    m.advise(ManagedAdvice::SetPreferredLocation(Location::Device)).unwrap();
    m.advise(ManagedAdvice::SetReadMostly).unwrap();
    let s = dev.stream();
    m.prefetch(Location::Device, s).unwrap();
    let mut gpu = dev.alloc(MEL).unwrap();
    s.copy_dtod(&m, &mut gpu).unwrap();
    m.prefetch(Location::Host, s).unwrap();
    s.synchronize().unwrap();
    let mut back = AlignedBuf::zeroed(MEL).unwrap();
    s.copy_dtoh(&gpu, &mut back).unwrap();
    assert!(back.as_slice::<f32>().unwrap().iter().all(|&x| x == 2.5));
}

#[test]
fn device_pool_reuses_and_raises_the_release_threshold() {
    let Some(dev) = device("device_pool_reuses_and_raises_the_release_threshold") else {
        return;
    };
    let pool = dev.pool_builder().name("gpu").cap_bytes(8 << 20).build().unwrap();
    if dev.caps().memory_pools {
        assert_eq!(zc_cuda::release_threshold(&dev).unwrap(), zc_cuda::KEEP_ALL);
    }
    let first = pool.acquire(MEL).unwrap();
    let p = first.device_ptr();
    drop(first);
    let again = pool.acquire(MEL).unwrap();
    assert_eq!(again.device_ptr(), p);
    let st = pool.stats();
    assert_eq!((st.hits, st.misses), (1, 1));
    assert!(pool.acquire(16 << 20).is_err());
    let mut back = vec![1u8; MEL];
    dev.stream().copy_dtoh(&again, &mut back).unwrap();
    assert!(back.iter().all(|&b| b == 0), "pool buffers are zeroed");
}

#[test]
fn dlpack_export_of_real_buffers() {
    let Some(dev) = device("dlpack_export_of_real_buffers") else {
        return;
    };
    let gpu: DeviceBuffer = dev.alloc(MEL).unwrap();
    let dptr = gpu.device_ptr().unwrap();
    let t = DlpackTensor::new(gpu, DataType::F32, &[80, 3000], None, 0).unwrap();
    assert_eq!(t.tensor().device.device_type, 2);
    assert_eq!(t.tensor().data as usize as u64, dptr);
    assert!(t.view::<f32>().is_err(), "device memory cannot be viewed on the host");
    let mut pinned = dev.alloc_pinned(MEL).unwrap();
    pinned.as_slice_mut::<f32>().unwrap()[0] = 4.0;
    let t = DlpackTensor::from_host::<f32, _>(pinned, &[80, 3000]).unwrap();
    assert_eq!(t.tensor().device.device_type, 3);
    assert_eq!(t.view::<f32>().unwrap()[[0, 0]], 4.0);
    if dev.caps().managed_memory {
        let m = dev.alloc_managed(MEL).unwrap();
        let t = DlpackTensor::from_host::<f32, _>(m, &[80, 3000]).unwrap();
        assert_eq!(t.tensor().device.device_type, 13);
    }
}

#[test]
fn wrong_device_ordinal_is_no_device() {
    if device("wrong_device_ordinal_is_no_device").is_none() {
        return;
    }
    let n = zc_cuda::device_count().unwrap();
    assert!(matches!(CudaDevice::new(n), Err(CudaError::NoDevice { ordinal, count }) if ordinal == n && count == n));
}
