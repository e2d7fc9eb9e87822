//! Upload a pooled mel-sized buffer (80 × 3000 f32 = 960 000 bytes) to the
//! GPU by each path — pageable, pinned, registered (page-locked in place),
//! managed (prefetch) — then time 960 KB and 256 MiB transfers host→device
//! and device→host per path, and print the bandwidth of each.
//!
//! ```text
//! cargo run -p zc-cuda --release --example upload_bench [-- --iters N]
//! ```
//!
//! Without a CUDA driver or device it prints "no CUDA driver: skipping" and
//! exits 0.

use std::time::{Duration, Instant};

use zc_buffers::ledger::{self, CopyKind};
use zc_buffers::{AlignedBuf, HostBufferExt, HostBufferMut, HostBufferMutExt, PAGE_ALIGN, Pool};
use zc_cuda::{CudaDevice, DeviceBuffer, DeviceMemory, Location, ManagedBuffer, Registered, Stream};

const MEL_BYTES: usize = 80 * 3000 * 4;

fn gbps(bytes: usize, t: Duration) -> f64 {
    if t.is_zero() {
        return 0.0;
    }
    bytes as f64 / t.as_secs_f64() / 1e9
}

/// Median wall time of `iters` runs of `f` (each ends with the copy done).
fn time(iters: usize, mut f: impl FnMut() -> zc_cuda::Result<()>) -> zc_cuda::Result<Duration> {
    f()?; // warm-up
    let mut v = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = Instant::now();
        f()?;
        v.push(t.elapsed());
    }
    v.sort_unstable();
    Ok(v[v.len() / 2])
}

struct Row {
    path: &'static str,
    size: usize,
    h2d: Duration,
    d2h: Duration,
}

fn bench_host<H>(
    stream: &Stream,
    host: &mut H,
    gpu: &mut DeviceBuffer,
    iters: usize,
) -> zc_cuda::Result<(Duration, Duration)>
where
    H: zc_buffers::HostBufferMut + ?Sized,
{
    let h2d = time(iters, || stream.copy_htod(&*host, gpu))?;
    let d2h = time(iters, || stream.copy_dtoh(&*gpu, host))?;
    Ok((h2d, d2h))
}

fn bench_managed(stream: &Stream, m: &ManagedBuffer, iters: usize) -> zc_cuda::Result<(Duration, Duration)> {
    m.prefetch(Location::Host, stream)?;
    stream.synchronize()?;
    let mut h2d = Vec::with_capacity(iters);
    let mut d2h = Vec::with_capacity(iters);
    for _ in 0..iters.max(1) {
        let t = Instant::now();
        m.prefetch(Location::Device, stream)?;
        stream.synchronize()?;
        h2d.push(t.elapsed());
        let t = Instant::now();
        m.prefetch(Location::Host, stream)?;
        stream.synchronize()?;
        d2h.push(t.elapsed());
    }
    h2d.sort_unstable();
    d2h.sort_unstable();
    Ok((h2d[h2d.len() / 2], d2h[d2h.len() / 2]))
}

fn run(dev: &CudaDevice, iters: usize) -> zc_cuda::Result<()> {
    let stream = dev.new_stream()?;
    println!(
        "device {}: {} (driver {})",
        dev.ordinal(),
        dev.name(),
        zc_cuda::driver_version().unwrap_or(0)
    );

    // 1. The pipeline case: the same pooled mel buffer uploaded by each path,
    //    with what the ledger saw and the wall time of the whole path.
    let pool = Pool::builder().name("mel").align(PAGE_ALIGN).build()?;
    let dpool = dev.pool_builder().name("mel-gpu").cap_bytes(64 << 20).build()?;
    let mut mel = pool.acquire(MEL_BYTES)?;
    mel.as_slice_mut::<f32>()?.fill(-0.5);
    let mut gpu_mel = dpool.acquire(MEL_BYTES)?;
    println!("\npooled mel 80x3000 f32 ({MEL_BYTES} bytes) to the GPU, by path:");

    let t = Instant::now();
    let (res, r) = ledger::scope(|| stream.copy_htod(&mel, &mut gpu_mel));
    res?;
    println!("  pageable (driver-staged)  : {:>9.1?}  ledger {r}", t.elapsed());

    let mut pinned = dev.alloc_pinned(MEL_BYTES)?;
    let t = Instant::now();
    let (res, r) = ledger::scope(|| -> zc_cuda::Result<()> {
        ledger::copy_bytes(pinned.as_bytes_mut(), &mel, CopyKind::Other)?;
        stream.copy_htod(&pinned, &mut gpu_mel)
    });
    res?;
    println!("  pinned (staged by us)     : {:>9.1?}  ledger {r}", t.elapsed());

    let t = Instant::now();
    let reg = Registered::with_device(dev, mel)?;
    let (res, r) = ledger::scope(|| stream.upload(reg, gpu_mel).map_err(zc_cuda::CudaError::from));
    let done = res?.wait()?;
    println!(
        "  registered in place (async): {:>9.1?}  ledger {r}; copy alone {:?} = {:.2} GB/s",
        t.elapsed(),
        done.elapsed,
        done.bandwidth().unwrap_or(0.0) / 1e9
    );
    let (reg, gpu_mel) = (done.src, done.dst);
    let mut check = AlignedBuf::zeroed(MEL_BYTES)?;
    stream.copy_dtoh(&gpu_mel, &mut check)?;
    let ok = check.as_slice::<f32>()?.iter().all(|&x| x == -0.5);
    println!("  round trip check          : {}", if ok { "ok" } else { "MISMATCH" });
    let mel = reg.unregister()?;

    match dev.alloc_managed(MEL_BYTES) {
        Ok(mut m) => {
            let t = Instant::now();
            let (res, r) = ledger::scope(|| -> zc_cuda::Result<()> {
                ledger::copy_bytes(m.as_bytes_mut(), &mel, CopyKind::Other)?;
                m.prefetch(Location::Device, &stream)?;
                stream.synchronize()
            });
            res?;
            println!(
                "  managed (copy + prefetch) : {:>9.1?}  ledger {r} (migration to device {} is not a recorded copy)",
                t.elapsed(),
                m.ordinal()
            );
        }
        Err(e) => println!("  managed                   : {e}"),
    }
    drop(mel);

    // 2. Bandwidth per path, 960 KB and 256 MiB, H2D and D2H.
    let mut rows = Vec::new();
    for size in [MEL_BYTES, 256 << 20] {
        let it = if size > (64 << 20) {
            iters.div_ceil(10).max(3)
        } else {
            iters
        };
        let mut gpu = dev.alloc_zeroed(size)?;
        let mut pageable = AlignedBuf::zeroed(size)?;
        let (h2d, d2h) = bench_host(&stream, &mut pageable, &mut gpu, it)?;
        rows.push(Row {
            path: "pageable",
            size,
            h2d,
            d2h,
        });
        let mut pinned = dev.alloc_pinned(size)?;
        let (h2d, d2h) = bench_host(&stream, &mut pinned, &mut gpu, it)?;
        rows.push(Row {
            path: "pinned",
            size,
            h2d,
            d2h,
        });
        let mut reg = Registered::with_device(dev, AlignedBuf::zeroed_aligned(size, PAGE_ALIGN)?)?;
        let (h2d, d2h) = bench_host(&stream, &mut reg, &mut gpu, it)?;
        rows.push(Row {
            path: "registered",
            size,
            h2d,
            d2h,
        });
        match dev.alloc_managed(size) {
            Ok(m) => {
                let (h2d, d2h) = bench_managed(&stream, &m, it)?;
                rows.push(Row {
                    path: "managed",
                    size,
                    h2d,
                    d2h,
                });
            }
            Err(e) => println!("managed {size} bytes: {e}"),
        }
    }
    println!("\n{:<11} {:>12} {:>12} {:>12}", "path", "bytes", "H2D GB/s", "D2H GB/s");
    for r in &rows {
        println!(
            "{:<11} {:>12} {:>12.2} {:>12.2}",
            r.path,
            r.size,
            gbps(r.size, r.h2d),
            gbps(r.size, r.d2h)
        );
    }
    println!("(median wall time per synchronous copy; managed = prefetch + stream sync)");
    Ok(())
}

/// Host→device upload paths (pageable, pinned, registered in place,
/// managed) timed on the first CUDA device; skips without one.
#[derive(clap::Parser)]
#[command(name = "upload_bench")]
struct Args {
    /// Copies per case (the median is reported).
    #[arg(long, default_value_t = 50)]
    iters: usize,
}

fn main() {
    let iters = <Args as clap::Parser>::parse().iters.max(1);
    let dev = match zc_cuda::probe().and_then(|_| CudaDevice::new(0)) {
        Ok(d) => d,
        Err(e) => {
            println!("no CUDA driver: skipping ({e})");
            return;
        }
    };
    if let Err(e) = run(&dev, iters) {
        eprintln!("upload_bench failed: {e}");
        std::process::exit(1);
    }
}
