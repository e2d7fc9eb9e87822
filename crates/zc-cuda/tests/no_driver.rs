//! Without a usable GPU every public entry point returns `NoDriver` /
//! `NoDevice` instead of panicking, and a buffer handed in comes back. On a
//! machine with a GPU these checks print why they skip.

use zc_buffers::{AlignedBuf, BufferError, PAGE_ALIGN, Pool};
use zc_cuda::{CudaDevice, CudaError, Registered};

/// True (after printing why) when a GPU is present, so these tests skip.
fn gpu_present() -> bool {
    if zc_cuda::available() {
        println!("skipping: a CUDA device is available; the no-driver paths cannot be exercised here");
        return true;
    }
    false
}

fn assert_unavailable<T: std::fmt::Debug>(what: &str, r: zc_cuda::Result<T>) {
    match r {
        Err(e) => {
            assert!(e.is_unavailable(), "{what}: expected NoDriver/NoDevice, got {e:?}");
            if !zc_cuda::driver_present() {
                assert!(matches!(e, CudaError::NoDriver), "{what}: expected NoDriver, got {e:?}");
            }
        }
        Ok(v) => panic!("{what}: expected an error without a GPU, got {v:?}"),
    }
}

#[test]
fn available_is_false_and_probe_says_why() {
    if gpu_present() {
        return;
    }
    assert!(!zc_cuda::available());
    // Repeated calls stay false and never panic.
    for _ in 0..3 {
        assert!(!zc_cuda::available());
    }
    assert_unavailable("probe", zc_cuda::probe());
    let msg = zc_cuda::probe().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("no CUDA"), "{msg}");
}

#[test]
fn device_queries_fail_cleanly() {
    if gpu_present() {
        return;
    }
    if zc_cuda::driver_present() {
        assert_eq!(zc_cuda::device_count().ok(), Some(0));
    } else {
        assert!(matches!(zc_cuda::device_count(), Err(CudaError::NoDriver)));
        assert!(matches!(zc_cuda::driver_version(), Err(CudaError::NoDriver)));
    }
}

#[test]
fn every_constructor_returns_no_driver() {
    if gpu_present() {
        return;
    }
    assert_unavailable("CudaDevice::new(0)", CudaDevice::new(0));
    assert_unavailable("CudaDevice::new(7)", CudaDevice::new(7));
    assert_unavailable("CudaDevice::default_device", CudaDevice::default_device());
}

#[test]
fn registering_without_a_driver_hands_the_buffer_back() {
    if gpu_present() {
        return;
    }
    let mut buf = AlignedBuf::zeroed_aligned(8192, PAGE_ALIGN).unwrap();
    buf[0] = 42;
    let ptr = buf.as_ptr();
    let rejected = Registered::new(buf).unwrap_err();
    assert!(rejected.error.is_unavailable(), "{:?}", rejected.error);
    let back = rejected.into_value();
    assert_eq!(back.as_ptr(), ptr);
    assert_eq!(back[0], 42);

    // A pooled guard too, and `?` into BufferError works.
    let pool = Pool::builder().align(PAGE_ALIGN).build().unwrap();
    let guard = pool.acquire(80 * 3000 * 4).unwrap();
    let as_buffer_error = || -> Result<(), BufferError> {
        let _reg = Registered::new(guard)?;
        Ok(())
    };
    match as_buffer_error() {
        Err(BufferError::Backend { backend, message }) => {
            assert_eq!(backend, "cuda");
            assert!(message.contains("no CUDA"), "{message}");
        }
        other => panic!("expected a cuda backend error, got {other:?}"),
    }
    // The guard went back to the pool when the Rejected was dropped.
    assert_eq!(pool.stats().in_use, 0);
}
