//! Without XRT: the process-wide runtime reports the paths it tried, and
//! `available()` is false without panicking. Its own test binary because it
//! sets `ZC_XRT_LIB` (process-wide).

use zc_npu::{LIB_ENV, NpuDevice, NpuError, Xrt};

#[test]
fn a_missing_runtime_is_an_error_with_the_paths_tried() {
    let missing = "/nonexistent/zc-npu-test/libxrt_coreutil.so.2";
    // SAFETY: this is the only test in this binary, so no other thread reads
    // or writes the environment concurrently.
    unsafe { std::env::set_var(LIB_ENV, missing) };

    assert!(!zc_npu::available());
    assert!(!zc_npu::available(), "asking twice is fine (the failure is cached)");
    let err = zc_npu::probe().unwrap_err();
    match &err {
        NpuError::LibraryNotFound { tried } => {
            assert_eq!(tried.len(), 1);
            assert_eq!(tried[0].path.to_str(), Some(missing));
        }
        other => panic!("expected LibraryNotFound, got {other:?}"),
    }
    assert!(err.to_string().contains(missing), "{err}");
    assert!(matches!(NpuDevice::open(0), Err(NpuError::LibraryNotFound { .. })));
    assert!(matches!(Xrt::global(), Err(NpuError::LibraryNotFound { .. })));
}
