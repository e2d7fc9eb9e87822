//! Minimum-of-runs timings of the cases the README's performance table
//! reports, on the 30 s chirp fixture: each kernel level, both layouts,
//! a 5 s clip followed by 25 s of explicit zeros against the same clip
//! padded virtually, 1 thread against 2 (one clip and a batch of 16), and
//! the clip streamed through a `MelStream`. The cases of one row run
//! alternately, so a change of machine load hits both. On a shared machine
//! the minimum is the steadiest figure; criterion (`cargo bench -p zc-mel
//! --features bench-peers`) gives the distributions and the ratios against
//! the peer crate.
//!
//! ```text
//! taskset -c 1 cargo run --release -p zc-mel --example mel_probe -- [--runs N] [--level L] [--case C]...
//! ```

use std::error::Error;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use zc_mel::{Layout, MelConfig, MelSpectrogram, MelStream, Normalization, Padding, SimdLevel};

/// Minimum-of-runs timings of zc-mel's performance table.
#[derive(Parser)]
#[command(about)]
struct Args {
    /// Repetitions of each case (the minimum is reported).
    #[arg(long, default_value_t = 300)]
    runs: usize,
    /// Time only this kernel level (portable, avx2, avx512) in the `levels` case.
    #[arg(long)]
    level: Option<SimdLevel>,
    /// Cases to run (default: all).
    #[arg(long = "case", value_enum)]
    cases: Vec<Case>,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Case {
    /// 30 s, 80 and 128 mels, every available level, mel-major.
    Levels,
    /// 30 s, 80 and 128 mels, mel-major against frame-major.
    Layouts,
    /// 5 s of audio then 25 s of explicit zeros against 5 s padded virtually to 30 s.
    Silence,
    /// 30 s / 80 mels and a batch of 16 × 30 s, 1 thread against 2.
    Threads,
    /// 30 s / 80 mels through a `MelStream` in 1600-sample chunks.
    Stream,
}

fn chirp() -> Result<Vec<f32>, Box<dyn Error>> {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/chirp_30s.f32"))?;
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// One timed case: a name and a closure run once per repetition.
type Timed<'a> = (String, Box<dyn FnMut() -> Result<(), Box<dyn Error>> + 'a>);

/// Run the cases alternately, `runs` rounds, and print each one's minimum
/// (and its ratio to the first).
fn alternate(runs: usize, mut cases: Vec<Timed<'_>>) -> Result<(), Box<dyn Error>> {
    let mut best = vec![f64::MAX; cases.len()];
    for _ in 0..runs {
        for (b, (_, f)) in best.iter_mut().zip(cases.iter_mut()) {
            let t = Instant::now();
            f()?;
            *b = b.min(t.elapsed().as_secs_f64());
        }
    }
    for (i, ((name, _), b)) in cases.iter().zip(&best).enumerate() {
        let ratio = if i == 0 {
            String::new()
        } else {
            format!("  ({:.2}x the first)", best[0] / b)
        };
        println!("  {name}: min of {runs} = {:.3} ms{ratio}", b * 1e3);
    }
    Ok(())
}

/// A plan's call on `x` into its own output and scratch, as a timed case.
fn case<'a>(name: String, mel: MelSpectrogram, x: &'a [f32]) -> Result<Timed<'a>, Box<dyn Error>> {
    let mut scratch = mel.make_scratch();
    let mut out = vec![0f32; mel.output_len(x.len())?];
    Ok((
        name,
        Box::new(move || {
            mel.compute_into_slice_with_scratch(x, &mut out, &mut scratch)?;
            Ok(())
        }),
    ))
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    let runs = args.runs.max(1);
    let want = |c: Case| args.cases.is_empty() || args.cases.contains(&c);
    let x = chirp()?;

    if want(Case::Levels) {
        println!("30 s, 1 thread, mel-major, per kernel level:");
        for n_mels in [80, 128] {
            let levels = [SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512];
            let mut cases = Vec::new();
            for level in levels.into_iter().filter(|l| l.is_available()) {
                if args.level.is_some_and(|o| o != level) {
                    continue;
                }
                let mel = MelSpectrogram::builder(MelConfig::whisper(n_mels))
                    .simd(level)
                    .build()?;
                cases.push(case(format!("{n_mels} mels, {level}"), mel, &x)?);
            }
            alternate(runs, cases)?;
        }
    }

    if want(Case::Layouts) {
        println!("30 s, 1 thread, mel-major vs frame-major:");
        for n_mels in [80, 128] {
            let mel = MelSpectrogram::new(MelConfig::whisper(n_mels))?;
            let frames = mel.to_builder().layout(Layout::FrameMajor).build()?;
            alternate(
                runs,
                vec![
                    case(format!("{n_mels} mels, mel-major"), mel, &x)?,
                    case(format!("{n_mels} mels, frame-major"), frames, &x)?,
                ],
            )?;
        }
    }

    if want(Case::Silence) {
        println!("5 s of audio + 25 s of silence, 80 mels, 1 thread:");
        let five = &x[..5 * 16_000];
        let mut zeros = five.to_vec();
        zeros.resize(30 * 16_000, 0.0);
        let virtual_pad = MelSpectrogram::new(MelConfig::whisper(80).padding(Padding::WHISPER_30S))?;
        let explicit = MelSpectrogram::new(MelConfig::whisper(80))?;
        alternate(
            runs,
            vec![
                case("5 s padded virtually to 30 s (pad_or_trim)".into(), virtual_pad, five)?,
                case("5 s + 25 s of explicit zeros".into(), explicit, &zeros)?,
            ],
        )?;
    }

    if want(Case::Threads) {
        println!("80 mels, mel-major, 1 thread vs 2:");
        let one = MelSpectrogram::new(MelConfig::whisper(80))?;
        let two = one.to_builder().threads(2).build()?;
        alternate(
            runs,
            vec![
                case("30 s, 1 thread".into(), one, &x)?,
                case("30 s, 2 threads".into(), two, &x)?,
            ],
        )?;
        let clips: Vec<&[f32]> = vec![&x[..]; 16];
        let batch = |name: &str, threads: usize| -> Result<Timed<'_>, Box<dyn Error>> {
            let per_item = MelConfig::whisper(80).normalization(Normalization::PerItem);
            let mel = MelSpectrogram::builder(per_item).threads(threads).build()?;
            let mut scratch = mel.make_scratch();
            let mut outs = vec![vec![0f32; mel.output_len(x.len())?]; clips.len()];
            let clips = clips.clone();
            Ok((
                name.to_string(),
                Box::new(move || {
                    let mut views: Vec<&mut [f32]> = outs.iter_mut().map(|o| &mut o[..]).collect();
                    mel.compute_batch_into_slices(&clips, &mut views, &mut scratch)?;
                    Ok(())
                }),
            ))
        };
        alternate(
            runs.div_ceil(16),
            vec![
                batch("batch of 16 x 30 s, 1 thread", 1)?,
                batch("batch of 16 x 30 s, 2 threads", 2)?,
            ],
        )?;
    }

    if want(Case::Stream) {
        println!("30 s, 80 mels, 1 thread, offline vs streamed:");
        let offline = MelSpectrogram::new(MelConfig::whisper(80).normalization(Normalization::Fixed(1.0)))?;
        let mut stream = MelStream::from_plan(offline.clone())?;
        let mut frames = vec![0f32; 3000 * 80];
        let x = &x;
        alternate(
            runs,
            vec![
                case("offline".into(), offline, x)?,
                (
                    "MelStream, 1600-sample chunks".into(),
                    Box::new(move || {
                        let mut at = 0;
                        for chunk in x.chunks(1600) {
                            at += stream.push_into_slice(chunk, &mut frames[at * 80..])?.n_frames;
                        }
                        stream.finish_into_slice(&mut frames[at * 80..])?;
                        Ok(())
                    }),
                ),
            ],
        )?;
    }
    Ok(())
}
