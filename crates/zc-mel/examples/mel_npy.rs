//! Write Whisper's log-mel of a WAV to a `.npy` file, for Python users to
//! compare with `whisper.log_mel_spectrogram` and consume directly
//! (`numpy.load("mel.npy")`).
//!
//! ```text
//! cargo run -p zc-mel --release --example mel_npy -- [input.wav] [out.npy]
//!     [--n-mels 80|128] [--layout mels|frames] [--pad-or-trim | --padding N]
//! ```
//!
//! `--layout mels` (default) gives Whisper's `(n_mels, frames)`, `frames`
//! gives `(frames, n_mels)`; `--pad-or-trim` pads/trims to 30 s first,
//! `--padding N` appends `N` zeros (`transcribe()` uses 480000).

use std::error::Error;
use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use zc_buffers::{AlignedBuf, HostBuffer};
use zc_mel::{Layout, MelConfig, MelSpectrogram, Padding, SAMPLE_RATE, WavFile};

/// Whisper's log-mel of a WAV as a `.npy` file.
#[derive(Parser)]
#[command(about)]
struct Args {
    /// 16 kHz WAV to read (default: the bundled speech fixture).
    #[arg(default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/speech_16k.wav"))]
    input: PathBuf,
    /// `.npy` file to write.
    #[arg(default_value = "mel.npy")]
    output: PathBuf,
    /// Mel bands (Whisper uses 80, or 128 for large-v3).
    #[arg(long, default_value_t = 80)]
    n_mels: usize,
    /// `mels` gives Whisper's `(n_mels, frames)`, `frames` gives `(frames, n_mels)`.
    #[arg(long, value_enum, default_value_t = LayoutArg::Mels)]
    layout: LayoutArg,
    /// Pad or trim to 30 s first (`whisper.pad_or_trim`).
    #[arg(long, conflicts_with = "padding")]
    pad_or_trim: bool,
    /// Append N zero samples (`transcribe()` uses 480000).
    #[arg(long, value_name = "N")]
    padding: Option<usize>,
}

#[derive(Clone, Copy, ValueEnum)]
enum LayoutArg {
    Mels,
    Frames,
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    let layout = match args.layout {
        LayoutArg::Mels => Layout::MelMajor,
        LayoutArg::Frames => Layout::FrameMajor,
    };
    let padding = match (args.pad_or_trim, args.padding) {
        (true, _) => Padding::WHISPER_30S,
        (false, Some(n)) => Padding::Append(n),
        (false, None) => Padding::None,
    };
    let wav = WavFile::open(&args.input)?.expect_sample_rate(SAMPLE_RATE)?;
    let samples = wav.samples()?;
    let mel = MelSpectrogram::builder(MelConfig::whisper(args.n_mels).padding(padding))
        .layout(layout)
        .build()?;
    let mut out = AlignedBuf::zeroed(mel.output_bytes(samples.len())?)?;
    let t = std::time::Instant::now();
    let shape = mel.compute_into(&samples, &mut out)?.dims();
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let mut file = std::io::BufWriter::new(std::fs::File::create(&args.output)?);
    file.write_all(&zc_buffers::interop::npy::header("<f4", &[shape.0, shape.1]))?;
    // the buffer holds native-endian f32; .npy says little-endian
    if cfg!(target_endian = "little") {
        file.write_all(out.as_bytes())?;
    } else {
        for c in out.as_bytes().chunks_exact(4) {
            file.write_all(&f32::from_ne_bytes([c[0], c[1], c[2], c[3]]).to_le_bytes())?;
        }
    }
    file.flush()?;
    println!(
        "{} -> {}: float32 {:?} ({:?}, {:?}) in {ms:.2} ms",
        args.input.display(),
        args.output.display(),
        shape,
        layout,
        padding
    );
    Ok(())
}
