//! Load a 16 kHz WAV (mapped in place where it is mono f32, decoded once
//! otherwise), compute Whisper's 80-mel log-mel padded/trimmed to 30 s into
//! a pool buffer, print what was copied, and render the spectrogram as a
//! colour PNG (low frequencies at the bottom, one pixel per frame and band).
//!
//! ```text
//! cargo run -p zc-mel --release --example mel_png -- [input.wav] [out.png]
//! ```

use std::error::Error;
use std::io::BufWriter;
use std::path::PathBuf;

use clap::Parser;

use zc_buffers::{HostBufferExt, Pool, ledger};
use zc_mel::{MelConfig, MelSpectrogram, Padding, SAMPLE_RATE, WavFile};

/// Whisper's 80-mel log-mel of a WAV (padded/trimmed to 30 s) as a PNG.
#[derive(Parser)]
#[command(about)]
struct Args {
    /// 16 kHz WAV to read (default: the bundled speech fixture).
    #[arg(default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/speech_16k.wav"))]
    input: PathBuf,
    /// PNG file to write.
    #[arg(default_value = "mel.png")]
    output: PathBuf,
}

fn main() -> Result<(), Box<dyn Error>> {
    let Args { input, output } = Args::parse();

    let pool = Pool::builder().name("mel").cap_bytes(64 << 20).build()?;
    let mel = MelSpectrogram::new(MelConfig::whisper(80).padding(Padding::WHISPER_30S))?;

    let (result, report) = ledger::scope(|| -> Result<_, Box<dyn Error>> {
        let wav = WavFile::open(&input)?.expect_sample_rate(SAMPLE_RATE)?;
        let info = wav.info();
        println!(
            "{}: {} Hz, {} ch, {:?}, {} samples ({:.2} s)",
            input.display(),
            info.sample_rate,
            info.channels,
            info.format,
            info.num_samples(),
            info.duration_secs()
        );
        let samples = wav.samples()?;
        let mut out = pool.acquire(mel.output_bytes(samples.len())?)?;
        let t = std::time::Instant::now();
        let (rows, cols) = mel.compute_into(&samples, &mut out)?.dims();
        println!(
            "log-mel ({rows} x {cols}, mel-major) in {:.2} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
        Ok((rows, cols, samples.is_zero_copy(), out))
    });
    let (rows, cols, zero_copy, out) = result?;
    println!(
        "samples {}; ledger: {report}",
        if zero_copy { "mapped in place" } else { "decoded once" }
    );

    // render: low frequencies at the bottom, values (−1.5 … ≈2.5 range) scaled to 0..255
    let view = out.view2::<f32>(rows, cols)?;
    let (lo, hi) = view
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let scale = if hi > lo { 255.0 / (hi - lo) } else { 0.0 };
    let mut pixels = Vec::with_capacity(rows * cols * 3);
    for m in (0..rows).rev() {
        for &v in view.row(m) {
            pixels.extend(colour((v - lo) * scale / 255.0));
        }
    }
    let file = std::fs::File::create(&output)?;
    let mut enc = png::Encoder::new(BufWriter::new(file), cols as u32, rows as u32);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header()?.write_image_data(&pixels)?;
    println!(
        "wrote {} ({cols} x {rows} px, value range {lo:.3} .. {hi:.3})",
        output.display()
    );
    Ok(())
}

/// A black → purple → orange → yellow ramp (magma-like) for `t` in 0..=1.
fn colour(t: f32) -> [u8; 3] {
    const STOPS: [[f32; 3]; 5] = [
        [0.0, 0.0, 4.0],
        [81.0, 18.0, 124.0],
        [183.0, 55.0, 121.0],
        [252.0, 137.0, 97.0],
        [252.0, 253.0, 191.0],
    ];
    let x = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f32;
    let i = (x as usize).min(STOPS.len() - 2);
    let f = x - i as f32;
    let mix = |c: usize| (STOPS[i][c] + (STOPS[i + 1][c] - STOPS[i][c]) * f) as u8;
    [mix(0), mix(1), mix(2)]
}
