//! The process-wide runtime loaded through the `ZC_XRT_LIB` override: this
//! binary points it at the fake before anything touches the global runtime
//! (environment variables are process-wide, so this lives in its own test
//! binary with a single test).

mod support;

use support::{fake, fake_lib};
use zc_buffers::{Buffer, HostBufferMutExt, SyncDirection};
use zc_npu::{LIB_ENV, NpuBuffer, NpuDevice, NpuError, Xrt, default_candidates};

#[test]
fn the_global_runtime_uses_the_override() {
    let path = fake_lib();
    // SAFETY: this is the only test in this binary, so no other thread reads
    // or writes the environment concurrently.
    unsafe { std::env::set_var(LIB_ENV, path) };
    assert_eq!(default_candidates(), [path.to_path_buf()]);

    assert!(zc_npu::available());
    // The fake runtime has devices 0 and 1: probe counts both, the way
    // zc_cuda::probe() counts CUDA devices.
    assert_eq!(zc_npu::probe().expect("probe"), 2);
    let dev = zc_npu::NpuDevice::open(0).expect("open");
    assert_eq!(dev.index(), 0);
    assert_eq!(dev.runtime().path(), path);
    // The same runtime every time.
    let a = Xrt::global().expect("global");
    let b = Xrt::global().expect("global");
    assert!(std::sync::Arc::ptr_eq(&a, &b));

    let npu = NpuDevice::open(1).expect("device 1");
    let mut bo = NpuBuffer::alloc(&npu, 4096).expect("alloc");
    bo.as_slice_mut::<u32>().expect("slice")[0] = 0xDEAD_BEEF;
    bo.sync(SyncDirection::ToDevice, 0..4).expect("sync");
    assert_eq!(fake().device_read(&bo, 0, 4), 0xDEAD_BEEFu32.to_ne_bytes());
    assert_eq!(bo.len(), 4096);
    assert!(matches!(NpuDevice::open(2), Err(NpuError::NoDevice { index: 2, .. })));

    // Once loaded, the global runtime stays (changing the variable later has
    // no effect on it).
    // SAFETY: as above, single test in this binary.
    unsafe { std::env::set_var(LIB_ENV, "/nonexistent/libxrt_coreutil.so") };
    assert!(zc_npu::available());
}
