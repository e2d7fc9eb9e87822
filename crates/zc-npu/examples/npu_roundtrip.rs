//! Validate zc-npu on real hardware (a Ryzen AI machine with XRT and the
//! amdxdna driver): open device 0, allocate a host-only buffer object, fill
//! it through the mapping, sync to the device and back, read it back and
//! verify; then wrap a page-aligned pool buffer as a user-pointer BO and do
//! the same. Also checks that none of this copied a byte (the ledger).
//!
//! ```text
//! cargo run -p zc-npu --example npu_roundtrip
//! ZC_XRT_LIB=/opt/xilinx/xrt/lib/libxrt_coreutil.so.2 cargo run -p zc-npu --example npu_roundtrip
//! ```
//!
//! Without XRT or an NPU it prints why (with every library path tried) and
//! exits 0.

use std::process::ExitCode;

use zc_buffers::{Buffer, HostBufferExt, HostBufferMutExt, Pool, SyncDirection, ledger};
use zc_npu::{NpuBuffer, NpuDevice, NpuError};

const FLOATS: usize = 1 << 20; // 4 MiB of f32

fn pattern(i: usize) -> f32 {
    (i % 4093) as f32 * 0.25 - 511.0
}

fn main() -> ExitCode {
    let device = match zc_npu::probe().and_then(|_| zc_npu::NpuDevice::open(0)) {
        Ok(d) => d,
        Err(e) => {
            println!("npu_roundtrip: no NPU runtime or device here, nothing to validate.");
            println!("  reason: {e}");
            return ExitCode::SUCCESS;
        }
    };
    println!(
        "npu_roundtrip: XRT loaded from {}, device {} open",
        device.runtime().path().display(),
        device.index()
    );
    match run(&device) {
        Ok(()) => {
            println!("npu_roundtrip: PASS");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("npu_roundtrip: FAIL: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(device: &NpuDevice) -> Result<(), Box<dyn std::error::Error>> {
    let bytes = FLOATS * 4;

    // 1. An XRT-allocated host-only BO, filled in place.
    let (result, report) = ledger::scope(|| -> Result<(), Box<dyn std::error::Error>> {
        let mut bo = NpuBuffer::alloc(device, bytes)?;
        println!(
            "  alloc: {} bytes (xrtBOSize {}), align {}, device address {:#x}",
            bo.len(),
            bo.bo_size(),
            bo.align(),
            bo.device_ptr().unwrap_or(0)
        );
        for (i, x) in bo.as_slice_mut::<f32>()?.iter_mut().enumerate() {
            *x = pattern(i);
        }
        bo.sync(SyncDirection::ToDevice, 0..bytes)?;
        bo.sync(SyncDirection::FromDevice, 0..bytes)?;
        // A partial sync of one row in the middle.
        bo.sync(SyncDirection::ToDevice, 4096..8192)?;
        bo.sync(SyncDirection::FromDevice, 4096..8192)?;
        verify(bo.as_slice::<f32>()?, "alloc")?;
        let view = bo.view2::<f32>(1024, 1024)?;
        if view[[1, 2]] != pattern(1024 + 2) {
            return Err("2-D view reads the wrong element".into());
        }
        Ok(())
    });
    result?;
    println!("  alloc round trip ok; ledger: {report}");
    if report.copies != 0 {
        return Err(format!("expected no copies, the ledger saw {}", report.copies).into());
    }

    // 2. A page-aligned pool buffer wrapped as a user-pointer BO.
    let pool = Pool::builder().name("host").align(4096).build()?;
    let mut host = pool.acquire(bytes)?;
    for (i, x) in host.as_slice_mut::<f32>()?.iter_mut().enumerate() {
        *x = pattern(i);
    }
    let (result, report) = ledger::scope(|| -> Result<(), Box<dyn std::error::Error>> {
        let mut bo = NpuBuffer::wrap(device, host).map_err(NpuError::from)?;
        println!("  wrap: user-pointer BO of {} bytes at {:?}", bo.len(), bo.host_ptr());
        bo.sync(SyncDirection::ToDevice, 0..bytes)?;
        bo.sync(SyncDirection::FromDevice, 0..bytes)?;
        verify(bo.as_slice::<f32>()?, "wrap")?;
        let back = bo.into_host();
        verify(back.as_slice::<f32>()?, "wrap (host buffer after free)")?;
        Ok(())
    });
    result?;
    println!("  wrap round trip ok; ledger: {report}");
    if report.copies != 0 {
        return Err(format!("expected no copies, the ledger saw {}", report.copies).into());
    }

    // 3. A pooled BO, reused.
    let npu_pool = device.pool_builder(0).cap_bytes(64 << 20).build()?;
    for round in 0..3 {
        let mut bo = npu_pool.acquire(bytes)?;
        bo.as_slice_mut::<f32>()?.fill(round as f32);
        bo.sync(SyncDirection::ToDevice, 0..bytes)?;
        bo.sync(SyncDirection::FromDevice, 0..bytes)?;
        if bo.as_slice::<f32>()?.iter().any(|&x| x != round as f32) {
            return Err(format!("pooled BO round {round} read back wrong data").into());
        }
    }
    let stats = npu_pool.stats();
    println!("  pool: {} miss(es), {} hit(s)", stats.misses, stats.hits);
    Ok(())
}

fn verify(data: &[f32], what: &str) -> Result<(), String> {
    match data.iter().enumerate().find(|&(i, &x)| x != pattern(i)) {
        None => Ok(()),
        Some((i, &x)) => Err(format!("{what}: element {i} is {x}, expected {}", pattern(i))),
    }
}
