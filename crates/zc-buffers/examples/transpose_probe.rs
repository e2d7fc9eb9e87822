//! Measures `transpose_into` of an (80, 3000) f32 mel against `memcpy` of
//! the same bytes, for 64-byte aligned buffers and for ordinary `Vec`s
//! (malloc alignment, and offset by one element), min of many runs:
//! `taskset -c 1 cargo run --release -p zc-buffers --example transpose_probe`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ndarray::{ArrayView2, ArrayViewMut2};
use zc_buffers::{AlignedBuf, HostBufferMutExt, transpose_into};

const M: usize = 80;
const T: usize = 3000;

fn min_time(mut f: impl FnMut()) -> Duration {
    for _ in 0..50 {
        f();
    }
    let mut best = Duration::MAX;
    for _ in 0..2000 {
        let t0 = Instant::now();
        f();
        best = best.min(t0.elapsed());
    }
    best
}

fn gibs(d: Duration) -> f64 {
    (M * T * 4) as f64 / d.as_secs_f64() / (1u64 << 30) as f64
}

fn main() -> Result<(), zc_buffers::BufferError> {
    let mut a_src = AlignedBuf::zeroed(M * T * 4)?;
    for (i, x) in a_src.as_slice_mut::<f32>()?.iter_mut().enumerate() {
        *x = i as f32;
    }
    let mut a_dst = AlignedBuf::zeroed(M * T * 4)?;
    let memcpy = min_time(|| a_dst.copy_from_slice(black_box(&a_src[..])));
    let aligned = min_time(|| {
        let s = ArrayView2::from_shape((M, T), bytemuck::cast_slice::<u8, f32>(&a_src)).unwrap();
        let d = ArrayViewMut2::from_shape((T, M), bytemuck::cast_slice_mut::<u8, f32>(&mut a_dst)).unwrap();
        transpose_into(black_box(s), d).unwrap();
    });
    let v_src: Vec<f32> = (0..M * T + 1).map(|i| i as f32).collect();
    let mut v_dst = vec![0f32; M * T + 1];
    let mut vec_case = |off: usize| {
        min_time(|| {
            let s = ArrayView2::from_shape((M, T), &v_src[off..off + M * T]).unwrap();
            let d = ArrayViewMut2::from_shape((T, M), &mut v_dst[off..off + M * T]).unwrap();
            transpose_into(black_box(s), d).unwrap();
        })
    };
    let vec0 = vec_case(0);
    let vec1 = vec_case(1);
    println!(
        "memcpy 960 KB         {:>8.1} µs  {:>5.1} GiB/s",
        memcpy.as_secs_f64() * 1e6,
        gibs(memcpy)
    );
    for (name, d) in [
        ("aligned (64 B)", aligned),
        ("Vec (malloc)", vec0),
        ("Vec + 4 B offset", vec1),
    ] {
        println!(
            "transpose {:<16} {:>8.1} µs  {:>5.1} GiB/s  {:>5.1}% of memcpy",
            name,
            d.as_secs_f64() * 1e6,
            gibs(d),
            100.0 * memcpy.as_secs_f64() / d.as_secs_f64()
        );
    }
    Ok(())
}
