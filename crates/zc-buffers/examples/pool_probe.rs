//! Minimum-of-many-runs probe of pool acquire+release cost (ns/op): on a
//! shared, loaded machine the minimum over many short runs approximates the
//! uncontended cost better than a mean. Complements the criterion bench.
use std::time::Instant;

fn main() -> Result<(), zc_buffers::BufferError> {
    let pool = zc_buffers::Pool::builder().cap_bytes(256 << 20).build()?;
    for n in [4096usize, 960_000, 9_600_000] {
        drop(pool.acquire(n)?);
        let mut best = f64::MAX;
        for _ in 0..200 {
            let t = Instant::now();
            for _ in 0..10_000 {
                let g = pool.acquire(std::hint::black_box(n))?;
                std::hint::black_box(g.as_ptr());
            }
            best = best.min(t.elapsed().as_nanos() as f64 / 10_000.0);
        }
        let mut best_vec = f64::MAX;
        for _ in 0..20 {
            let t = Instant::now();
            for _ in 0..100 {
                let v = vec![0u8; std::hint::black_box(n)];
                std::hint::black_box(v.as_ptr());
            }
            best_vec = best_vec.min(t.elapsed().as_nanos() as f64 / 100.0);
        }
        println!(
            "{n:>9} B: pool acquire+release {best:6.1} ns | fresh zeroed vec {best_vec:10.1} ns | ratio {:8.0}x",
            best_vec / best
        );
    }
    Ok(())
}
