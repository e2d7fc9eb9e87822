//! Minimum-of-runs timing of one 30 s log-mel (the chirp fixture) on one
//! thread, per kernel level and mel count, and of the same clip streamed
//! through a `MelStream` in 1600-sample chunks. On a shared machine the
//! minimum is the steadiest figure; criterion (`cargo bench -p zc-mel`)
//! gives the distributions and the side-by-side ratios.
//!
//! ```text
//! cargo run --release -p zc-mel --example mel_probe [-- RUNS [LEVEL]]
//! ```

use zc_mel::{MelConfig, MelSpectrogram, MelStream, Normalization, SimdLevel};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    // optional level name (portable, avx2, avx512) to time only that one
    let only = std::env::args().nth(2);
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/chirp_30s.f32"))?;
    let x: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    for n_mels in [80, 128] {
        let wanted = |l: &SimdLevel| only.as_ref().is_none_or(|o| o.parse() == Ok(*l));
        let levels = [SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512];
        for level in levels.into_iter().filter(|l| l.is_available()).filter(wanted) {
            let mel = MelSpectrogram::builder(MelConfig::whisper(n_mels))
                .simd(level)
                .build()?;
            let mut scratch = mel.make_scratch();
            let mut out = vec![0f32; mel.output_len(x.len())?];
            let mut best = f64::MAX;
            for _ in 0..runs {
                let t = std::time::Instant::now();
                mel.compute_into_slice_with_scratch(&x, &mut out, &mut scratch)?;
                best = best.min(t.elapsed().as_secs_f64());
            }
            println!(
                "30 s, {n_mels} mels, 1 thread, {level}: min of {runs} = {:.3} ms",
                best * 1e3
            );
        }
    }
    let mut stream = MelStream::new(MelConfig::whisper(80).normalization(Normalization::Fixed(1.0)))?;
    let mut frames = vec![0f32; 3000 * 80];
    let mut best = f64::MAX;
    for _ in 0..runs {
        let t = std::time::Instant::now();
        let mut at = 0;
        for chunk in x.chunks(1600) {
            at += stream.push_into_slice(chunk, &mut frames[at * 80..])?.n_frames;
        }
        stream.finish_into_slice(&mut frames[at * 80..])?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "30 s, 80 mels, MelStream in 1600-sample chunks: min of {runs} = {:.3} ms",
        best * 1e3
    );
    Ok(())
}
