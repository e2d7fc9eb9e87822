//! Load a 16 kHz WAV (mapped in place where it is mono f32, decoded once
//! otherwise), compute Whisper's 80-mel log-mel padded/trimmed to 30 s into
//! a pool buffer, print what was copied, and render the spectrogram as a PNG.
//!
//! ```text
//! cargo run -p zc-mel --release --example wav_to_mel -- [input.wav] [out.png]
//! ```

use std::error::Error;
use std::io::BufWriter;

use zc_buffers::{HostBufferExt, Pool, ledger};
use zc_mel::{Layout, MelConfig, MelSpectrogram, Padding, SAMPLE_RATE, WavFile};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let input = args
        .next()
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/speech_16k.wav").to_string());
    let output = args.next().unwrap_or_else(|| "mel.png".to_string());

    let pool = Pool::builder().name("mel").cap_bytes(64 << 20).build()?;
    let mut mel = MelSpectrogram::new(MelConfig::whisper(80).with_padding(Padding::WHISPER_30S))?;

    let (result, report) = ledger::scope(|| -> Result<_, Box<dyn Error>> {
        let wav = WavFile::open(&input)?.expect_sample_rate(SAMPLE_RATE)?;
        let info = wav.info();
        println!(
            "{input}: {} Hz, {} ch, {:?}, {} samples ({:.2} s)",
            info.sample_rate,
            info.channels,
            info.format,
            info.num_samples(),
            info.duration_secs()
        );
        let samples = wav.samples()?;
        let mut out = pool.acquire(mel.output_bytes(samples.len())?)?;
        let t = std::time::Instant::now();
        let (rows, cols) = mel.compute_into(&samples, &mut out, Layout::MelMajor)?;
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
    let mut pixels = Vec::with_capacity(rows * cols);
    for m in (0..rows).rev() {
        pixels.extend(view.row(m).iter().map(|&v| ((v - lo) * scale) as u8));
    }
    let file = std::fs::File::create(&output)?;
    let mut enc = png::Encoder::new(BufWriter::new(file), cols as u32, rows as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header()?.write_image_data(&pixels)?;
    println!("wrote {output} ({cols} x {rows} px, value range {lo:.3} .. {hi:.3})");
    Ok(())
}
