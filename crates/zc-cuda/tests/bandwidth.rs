//! Host↔device bandwidth per path (pageable, pinned, registered in place)
//! at 1 MB, 960 KB (one mel) and 64 MB, for `scripts/gpu-check.sh` on a
//! real GPU: `bandwidth --ignored --nocapture`. Ignored by default (timing
//! means nothing against the simulator); each copy's bytes are checked.

use std::time::{Duration, Instant};

use zc_buffers::{AlignedBuf, HostBuffer, HostBufferMut, PAGE_ALIGN};
use zc_cuda::{CudaDevice, Registered};

const SIZES: [usize; 3] = [1 << 20, 80 * 3000 * 4, 64 << 20];
const ITERS: usize = 20;

fn median(mut f: impl FnMut()) -> Duration {
    f();
    let mut t: Vec<Duration> = (0..ITERS)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed()
        })
        .collect();
    t.sort();
    t[ITERS / 2]
}

fn gbps(n: usize, t: Duration) -> f64 {
    n as f64 / t.as_secs_f64().max(1e-9) / 1e9
}

#[test]
#[ignore = "timing on a real GPU: scripts/gpu-check.sh runs it"]
fn bandwidth_table() {
    if !zc_cuda::available() {
        println!("skipping: no CUDA device ({:?})", zc_cuda::probe().err());
        return;
    }
    let dev = CudaDevice::new(0).unwrap();
    let s = dev.stream();
    println!("device: {}", dev.name());
    println!("{:<11} {:>10} {:>10} {:>10}", "path", "bytes", "H2D GB/s", "D2H GB/s");
    for n in SIZES {
        let mut gpu = dev.alloc(n).unwrap();
        let mut pageable = AlignedBuf::zeroed_aligned(n, PAGE_ALIGN).unwrap();
        pageable.as_bytes_mut().fill(0x5A);
        let mut pinned = dev.alloc_pinned(n).unwrap();
        pinned.as_bytes_mut().fill(0x5A);
        let mut registered = Registered::with_device(&dev, AlignedBuf::zeroed_aligned(n, PAGE_ALIGN).unwrap()).unwrap();
        registered.as_bytes_mut().fill(0x5A);

        let h2d = median(|| s.copy_htod(&pageable, &mut gpu).unwrap());
        let d2h = median(|| s.copy_dtoh(&gpu, &mut pageable).unwrap());
        println!(
            "{:<11} {:>10} {:>10.2} {:>10.2}",
            "pageable",
            n,
            gbps(n, h2d),
            gbps(n, d2h)
        );
        let h2d = median(|| s.copy_htod(&pinned, &mut gpu).unwrap());
        let d2h = median(|| s.copy_dtoh(&gpu, &mut pinned).unwrap());
        println!(
            "{:<11} {:>10} {:>10.2} {:>10.2}",
            "pinned",
            n,
            gbps(n, h2d),
            gbps(n, d2h)
        );
        let h2d = median(|| s.copy_htod(&registered, &mut gpu).unwrap());
        let d2h = median(|| s.copy_dtoh(&gpu, &mut registered).unwrap());
        println!(
            "{:<11} {:>10} {:>10.2} {:>10.2}",
            "registered",
            n,
            gbps(n, h2d),
            gbps(n, d2h)
        );
        for b in [pageable.as_bytes(), pinned.as_bytes(), registered.as_bytes()] {
            assert!(b.iter().all(|&x| x == 0x5A), "a timed copy changed the bytes");
        }
    }
}
