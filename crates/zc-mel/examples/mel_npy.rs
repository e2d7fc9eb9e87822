//! Write Whisper's log-mel of a WAV to a `.npy` file, for Python users to
//! compare with `whisper.log_mel_spectrogram` and consume directly
//! (`numpy.load("mel.npy")`).
//!
//! ```text
//! cargo run -p zc-mel --release --example mel_npy -- [input.wav] [out.npy]
//!     [--n-mels 80|128] [--layout mels|frames] [--pad-or-trim] [--padding N]
//! ```
//!
//! `--layout mels` (default) gives Whisper's `(n_mels, frames)`, `frames`
//! gives `(frames, n_mels)`; `--pad-or-trim` pads/trims to 30 s first,
//! `--padding N` appends `N` zeros (`transcribe()` uses 480000).

use std::error::Error;
use std::io::Write;

use zc_buffers::{AlignedBuf, HostBuffer};
use zc_mel::{Layout, MelConfig, MelSpectrogram, Padding, SAMPLE_RATE, WavFile};

struct Args {
    input: String,
    output: String,
    n_mels: usize,
    layout: Layout,
    padding: Padding,
}

fn parse() -> Result<Args, Box<dyn Error>> {
    let mut a = Args {
        input: concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/speech_16k.wav").to_string(),
        output: "mel.npy".to_string(),
        n_mels: 80,
        layout: Layout::MelMajor,
        padding: Padding::None,
    };
    let mut positional = 0;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--n-mels" => a.n_mels = value("--n-mels")?.parse()?,
            "--layout" => {
                a.layout = match value("--layout")?.as_str() {
                    "mels" => Layout::MelMajor,
                    "frames" => Layout::FrameMajor,
                    other => return Err(format!("--layout must be mels or frames, not {other}").into()),
                }
            }
            "--pad-or-trim" => a.padding = Padding::WHISPER_30S,
            "--padding" => a.padding = Padding::Append(value("--padding")?.parse()?),
            "-h" | "--help" => {
                println!(
                    "mel_npy [input.wav] [out.npy] [--n-mels 80|128] [--layout mels|frames] [--pad-or-trim] [--padding N]"
                );
                std::process::exit(0);
            }
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}").into()),
            _ => {
                match positional {
                    0 => a.input = arg,
                    1 => a.output = arg,
                    _ => return Err(format!("unexpected argument {arg}").into()),
                }
                positional += 1;
            }
        }
    }
    if a.n_mels != 80 && a.n_mels != 128 {
        return Err("--n-mels must be 80 or 128".into());
    }
    Ok(a)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse()?;
    let wav = WavFile::open(&args.input)?.expect_sample_rate(SAMPLE_RATE)?;
    let samples = wav.samples()?;
    let mel = MelSpectrogram::builder(MelConfig::whisper(args.n_mels).padding(args.padding))
        .layout(args.layout)
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
        args.input, args.output, shape, args.layout, args.padding
    );
    Ok(())
}
