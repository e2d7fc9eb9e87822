//! The zc end-to-end pipeline: audio → nonlinear microphone model → Whisper
//! log-mel → hypervector encoding → item-memory lookup → hand-off (ndarray,
//! DLPack, GPU / NPU where present), with **no copies and no allocations
//! between stages** in the steady state — and a table that proves it.
//!
//! ```text
//! cargo run --release --example pipeline                 # synthetic speech-like input
//! cargo run --release --example pipeline -- speech.wav   # any WAV (16 kHz for Whisper)
//! cargo run --release --example pipeline -- --repeat 5 --json
//! ```
//!
//! Each stage runs under a [`zc::buffers::ledger`] scope (deliberate copies)
//! and the counting global allocator (every heap call). The first run pays
//! for pool misses; `--repeat N` shows the steady state.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use zc::buffers::interop::dlpack::{DataType, DlpackTensor};
use zc::buffers::ledger::{self, LedgerReport};
use zc::buffers::testing::{self, AllocStats, CountingAllocator};
use zc::buffers::{Buffer, HostBufferExt, HostBufferMutExt, Pool, Pooled, SyncDirection};
use zc::hv16::{Bundler, HV16, ItemMemory, LevelEncoder};
use zc::mel::{Layout, MelConfig, MelProcessor, MelSpectrogram, Padding, WavFile};
use zc::volterra::{Kernel, Processor};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

type Error = Box<dyn std::error::Error + Send + Sync>;
type Result<T, E = Error> = std::result::Result<T, E>;

const SR: usize = 16_000;
const N_MELS: usize = 80;
const BLOCK: usize = 512;
const N_LEVELS: usize = 16;
/// The class store's file name; bump the version whenever the synthesis or
/// the encoding changes, so a store built by an older binary is not reused.
const CLASS_STORE: &str = "classes-v1.hvs";
const CLASSES: [Voice; 5] = [
    Voice::Vowel("vowel /a/", [730.0, 1090.0, 2440.0]),
    Voice::Vowel("vowel /i/", [270.0, 2290.0, 3010.0]),
    Voice::Vowel("vowel /u/", [300.0, 870.0, 2240.0]),
    Voice::Fricative("fricative /s/"),
    Voice::Hum("mains hum"),
];

// ---------------------------------------------------------------- synthesis

/// Speech-like test signals generated in code, so the example needs no files.
#[derive(Clone, Copy)]
enum Voice {
    /// A glottal pulse train through three formant resonators.
    Vowel(&'static str, [f64; 3]),
    /// High-passed noise.
    Fricative(&'static str),
    /// 50 Hz and harmonics plus a little noise.
    Hum(&'static str),
}

impl Voice {
    fn name(self) -> &'static str {
        match self {
            Voice::Vowel(n, _) | Voice::Fricative(n) | Voice::Hum(n) => n,
        }
    }

    /// Write `out.len()` samples at 16 kHz. `seed` varies pitch, syllable
    /// rate and noise, so two seeds give two different utterances.
    fn synth(self, seed: u64, out: &mut [f32]) {
        let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut noise = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        };
        let fs = SR as f64;
        let f0 = 110.0 + (seed % 7) as f64 * 12.0;
        let syllable_hz = 3.0 + (seed % 5) as f64 * 0.4;
        let mut phase = 0.0f64;
        let mut res = [[0.0f64; 2]; 3];
        let mut prev = 0.0f64;
        let mut peak = 1e-9f64;
        for (n, o) in out.iter_mut().enumerate() {
            let t = n as f64 / fs;
            let env = 0.55 - 0.45 * (2.0 * std::f64::consts::PI * syllable_hz * t).cos();
            let x = match self {
                Voice::Vowel(_, formants) => {
                    let f = f0 * (1.0 + 0.03 * (2.0 * std::f64::consts::PI * 5.0 * t).sin());
                    phase += f / fs;
                    let pulse = if phase >= 1.0 {
                        phase -= 1.0;
                        1.0
                    } else {
                        0.0
                    };
                    let mut s = pulse + 0.02 * noise();
                    for (k, &fc) in formants.iter().enumerate() {
                        let bw = 80.0 + 40.0 * k as f64;
                        let r = (-std::f64::consts::PI * bw / fs).exp();
                        let a1 = 2.0 * r * (2.0 * std::f64::consts::PI * fc / fs).cos();
                        let a2 = -r * r;
                        let y = (1.0 - r) * s + a1 * res[k][0] + a2 * res[k][1];
                        res[k][1] = res[k][0];
                        res[k][0] = y;
                        s = y;
                    }
                    s
                }
                Voice::Fricative(_) => {
                    let w = noise();
                    let hp = w - prev;
                    prev = w;
                    hp
                }
                Voice::Hum(_) => {
                    let w = 2.0 * std::f64::consts::PI * 50.0 * t;
                    w.sin() + 0.5 * (3.0 * w).sin() + 0.25 * (5.0 * w).sin() + 0.05 * noise()
                }
            };
            let v = x * env;
            peak = peak.max(v.abs());
            *o = v as f32;
        }
        let g = (0.3 / peak) as f32;
        out.iter_mut().for_each(|x| *x *= g);
    }
}

// ------------------------------------------------------------------ stages

/// What one stage did.
struct Stage {
    name: &'static str,
    time: Duration,
    bytes_in: usize,
    ledger: LedgerReport,
    allocs: AllocStats,
    note: String,
}

/// Run `f` as a stage: timed, under a ledger scope, with heap calls counted.
/// `note` describes the result for the table; it runs after the count, so
/// the report's own strings are not charged to the stage.
fn stage<R>(
    name: &'static str,
    bytes_in: usize,
    f: impl FnOnce() -> Result<R>,
    note: impl FnOnce(&R) -> String,
) -> Result<(R, Stage)> {
    // The ledger scope's own bookkeeping (an Arc) is made before the count starts.
    let l = ledger::Ledger::new();
    l.enter(|| ());
    let t0 = Instant::now();
    let (r, allocs) = l.enter(|| testing::count_allocs(f))?;
    let time = t0.elapsed();
    let r = r?;
    let note = note(&r);
    Ok((
        r,
        Stage {
            name,
            time,
            bytes_in,
            ledger: l.report(),
            allocs,
            note,
        },
    ))
}

/// Everything built once: pools, plans, encoders, the item memory.
struct Pipeline {
    audio_pool: Pool,
    mel_pool: Pool,
    hv_pool: Pool,
    volterra: Processor<f32>,
    mel: MelProcessor,
    bands: Vec<HV16>,
    levels: LevelEncoder,
    tie: HV16,
    frame_bundler: Bundler,
    utterance_bundler: Bundler,
    memory: Option<ItemMemory>,
    cuda: Option<zc::cuda::CudaDevice>,
    cuda_note: String,
    npu: Option<zc::npu::NpuDevice>,
    npu_note: String,
}

/// A realistic nonlinear microphone stage: a damped linear response, a weak
/// even-order term (asymmetric diaphragm) and a weak compressive odd term.
fn microphone_kernel() -> Result<Kernel> {
    let decay = |c: f64, r: f64, n: usize| (0..n).map(|i| c * r.powi(i as i32)).collect::<Vec<_>>();
    let mut h1 = decay(0.8, 0.55, 32);
    h1[1] += 0.15; // a small resonance lobe
    Ok(Kernel::from_taps([h1, decay(0.08, -0.45, 16), decay(-0.05, 0.35, 8)])?)
}

impl Pipeline {
    fn new(store: &Path) -> Result<Self> {
        // Page-aligned pools, so their buffers can be page-locked for a GPU
        // or wrapped as an NPU buffer object in place.
        let audio_pool = Pool::builder().name("audio").align(4096).cap_bytes(256 << 20).build()?;
        let mel_pool = Pool::builder().name("mel").align(4096).cap_bytes(64 << 20).build()?;
        let hv_pool = Pool::builder().name("encoder_output").cap_bytes(16 << 20).build()?;
        let volterra = Processor::<f32>::prepare(&microphone_kernel()?, BLOCK)?;
        let mel = MelProcessor::new(
            MelSpectrogram::builder(MelConfig::whisper(N_MELS).padding(Padding::WHISPER_30S))
                .layout(Layout::FrameMajor)
                .build()?,
        );
        let bands = (0..N_MELS as u64).map(|m| HV16::random(0xBA5E_0000 + m)).collect();
        let levels = LevelEncoder::new(N_LEVELS, -1.0, 1.5, 0x1E7E_1000)?;
        let (cuda, cuda_note) = if zc::cuda::available() {
            match zc::cuda::CudaDevice::new(0) {
                Ok(d) => (Some(d), String::new()),
                Err(e) => (None, format!("skipped: {e}")),
            }
        } else {
            (None, "skipped: no CUDA driver/GPU on this machine".to_string())
        };
        let (npu, npu_note) = match zc::npu::probe().and_then(|_| zc::npu::NpuDevice::open(0)) {
            Ok(d) => (Some(d), String::new()),
            Err(e) => (None, format!("skipped: no NPU ({})", short_reason(&e.to_string()))),
        };
        let mut p = Pipeline {
            audio_pool,
            mel_pool,
            hv_pool,
            volterra,
            mel,
            bands,
            levels,
            tie: HV16::random(0x71E0),
            frame_bundler: Bundler::new(),
            utterance_bundler: Bundler::new(),
            memory: None,
            cuda,
            cuda_note,
            npu,
            npu_note,
        };
        p.memory = Some(p.open_or_build_memory(store)?);
        Ok(p)
    }

    /// Open the class store, or build it on first run from generated
    /// utterances of each class (run through the same pipeline).
    fn open_or_build_memory(&mut self, store: &Path) -> Result<ItemMemory> {
        if let Ok(m) = ItemMemory::open(store)
            && m.len() == CLASSES.len()
        {
            return Ok(m);
        }
        if let Some(dir) = store.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let t0 = Instant::now();
        let mut memory = ItemMemory::create(store)?;
        let n = 3 * SR;
        for (c, voice) in CLASSES.iter().enumerate() {
            // bundle three utterances of each class into its prototype
            let mut proto = Bundler::new();
            for k in 0..3u64 {
                let mut audio = self.audio_pool.acquire(n * 4)?;
                voice.synth(1000 + 10 * c as u64 + k, audio.as_slice_mut::<f32>()?);
                self.volterra.reset();
                for block in audio.as_slice_mut::<f32>()?.chunks_mut(BLOCK) {
                    self.volterra.process_in_place(block)?;
                }
                let mut mel = self.mel_pool.acquire(self.mel.plan().output_bytes(n)?)?;
                self.mel.compute_into(audio.as_slice::<f32>()?, &mut mel)?;
                proto.add(&self.encode(&mel, n / 160)?);
            }
            memory.insert(voice.name(), &proto.finish_with_tiebreak(&self.tie))?;
        }
        eprintln!(
            "built item memory {} ({} classes) in {:.1} ms",
            store.display(),
            CLASSES.len(),
            t0.elapsed().as_secs_f64() * 1e3
        );
        Ok(ItemMemory::open(store)?)
    }

    /// Encode the first `n_frames` frames of a frame-major mel: per frame,
    /// bundle bind(band, level(energy)) over the bands; then bundle
    /// trigrams of permuted frames into one utterance vector. Frame vectors
    /// go into a pooled buffer; nothing is allocated.
    fn encode(&mut self, mel: &Pooled, n_frames: usize) -> Result<HV16> {
        let n_frames = n_frames.clamp(3, zc::mel::N_FRAMES);
        let frames = mel.view2::<f32>(zc::mel::N_FRAMES, N_MELS)?;
        let mut hv_buf = self.hv_pool.acquire(n_frames * zc::hv16::BYTES)?;
        let hvs = HV16::cast_slice_mut(&mut hv_buf)?;
        for (t, out) in hvs.iter_mut().enumerate() {
            self.frame_bundler.reset();
            for (m, &x) in frames.row(t).iter().enumerate() {
                self.frame_bundler
                    .add(&self.bands[m].bind(self.levels.encode(f64::from(x))?));
            }
            self.frame_bundler.finish_into(&self.tie, out);
        }
        self.utterance_bundler.reset();
        for w in hvs.windows(3) {
            let mut g = w[0].permute(2);
            g.bind_assign(&w[1].permute(1));
            g.bind_assign(&w[2]);
            self.utterance_bundler.add(&g);
        }
        Ok(self.utterance_bundler.finish_with_tiebreak(&self.tie))
    }

    /// One pass over `input`; returns the stages and the class found.
    fn run(&mut self, input: &Input) -> Result<(Vec<Stage>, String, f64)> {
        let mut stages = Vec::new();
        let n = input.n_samples();

        // 1. input into a pool buffer (in place for a 16 kHz float WAV)
        let (mut audio, s) = stage(
            "1 input → pool",
            n * 4,
            || {
                let mut audio = self.audio_pool.acquire(n * 4)?;
                match input {
                    Input::Synthetic(v, seed) => v.synth(*seed, audio.as_slice_mut::<f32>()?),
                    Input::Wav(_, true) => {} // read in place by stage 2
                    Input::Wav(w, false) => {
                        w.decode_into(&mut audio)?;
                    }
                }
                Ok(audio)
            },
            |_| match input {
                Input::Synthetic(v, _) => format!("generated {} in place", v.name()),
                Input::Wav(_, true) => "16 kHz float WAV: read in place from the mapping".into(),
                Input::Wav(w, false) => format!("{:?} WAV decoded once into the pool buffer", w.info().format),
            },
        )?;
        stages.push(s);

        // 2. Volterra microphone model, block-streamed, in place (or from
        //    the mapping straight into the pool buffer)
        let ((), s) = stage(
            "2 volterra (mic model)",
            n * 4,
            || {
                self.volterra.reset();
                let out = audio.as_slice_mut::<f32>()?;
                match input {
                    Input::Wav(w, true) => {
                        let src = w.samples_f32()?;
                        for (i, o) in src.chunks(BLOCK).zip(out.chunks_mut(BLOCK)) {
                            self.volterra.process_into_slice(i, o)?;
                        }
                    }
                    _ => {
                        for block in out.chunks_mut(BLOCK) {
                            self.volterra.process_in_place(block)?;
                        }
                    }
                }
                Ok(())
            },
            |_| format!("orders 1..3, blocks of {BLOCK}"),
        )?;
        stages.push(s);

        // 3. Whisper log-mel, frame-major, padded to 30 s, into a pool buffer
        let ((mut mel, (rows, cols)), s) = stage(
            "3 log-mel 80×3000",
            n * 4,
            || {
                let mut mel = self.mel_pool.acquire(self.mel.plan().output_bytes(n)?)?;
                let shape = self.mel.compute_into(audio.as_slice::<f32>()?, &mut mel)?.dims();
                Ok((mel, shape))
            },
            |(_, (r, c))| format!("frame-major ({r}, {c}) written directly"),
        )?;
        debug_assert_eq!((rows, cols), (zc::mel::N_FRAMES, N_MELS));
        stages.push(s);
        drop(audio);

        // 4. hypervector encoding of the frames that hold audio
        let n_frames = n / zc::mel::HOP_LENGTH;
        let (utterance, s) = stage(
            "4 hv16 encode",
            n_frames.min(3000) * N_MELS * 4,
            || self.encode(&mel, n_frames),
            |_| format!("{} frames × {N_MELS} bands, trigrams", n_frames.clamp(3, 3000)),
        )?;
        stages.push(s);

        // 5. item-memory lookup over the mmap'd store
        let memory = self.memory.as_ref().ok_or("item memory missing")?;
        let (hit, s) = stage(
            "5 item-memory lookup",
            memory.len() * zc::hv16::BYTES,
            || Ok(memory.cleanup(&utterance)?),
            |h| format!("nearest: {} (distance {})", h.name, h.distance),
        )?;
        let (class, distance) = (hit.name.to_string(), hit.distance);
        stages.push(s);

        // 6. accelerators, where present: page-lock the mel buffer in place
        //    and upload it / wrap it as an NPU buffer object
        let mel_bytes = mel.len();
        if let Some(dev) = &self.cuda {
            let (m, s) = stage(
                "6a GPU upload (registered)",
                mel_bytes,
                || {
                    let reg = zc::cuda::Registered::new(mel).map_err(|r| r.error)?;
                    let mut dbuf = dev.alloc(mel_bytes)?;
                    dev.stream().copy_htod(&reg, &mut dbuf)?;
                    Ok(reg.unregister().map_err(|r| r.error)?)
                },
                |_| "page-locked in place, one H2D transfer".to_string(),
            )?;
            mel = m;
            stages.push(s);
        } else {
            stages.push(skipped("6a GPU upload (registered)", &self.cuda_note));
        }
        if let Some(dev) = &self.npu {
            let (m, s) = stage(
                "6b NPU buffer object",
                mel_bytes,
                || {
                    let mut bo = zc::npu::NpuBuffer::wrap(dev, mel).map_err(|e| e.error)?;
                    bo.sync(SyncDirection::ToDevice, 0..mel_bytes)?;
                    Ok(bo.into_host())
                },
                |_| "user-pointer BO over the pool buffer, synced to the device".to_string(),
            )?;
            mel = m;
            stages.push(s);
        } else {
            stages.push(skipped("6b NPU buffer object", &self.npu_note));
        }

        // 7. hand-off: an ndarray view and a DLPack tensor over the same bytes
        let (same, s) = stage(
            "7 hand-off ndarray+DLPack",
            mel_bytes,
            || {
                // an ndarray consumer reads the frames in place
                let ptr = {
                    let view = mel.view2::<f32>(zc::mel::N_FRAMES, N_MELS)?;
                    std::hint::black_box(view.row(0).sum());
                    view.as_ptr()
                };
                // a DLPack consumer (PyTorch, JAX, …) would take
                // tensor.into_raw(); dropping it here runs the deleter, which
                // returns the buffer to its pool
                let tensor = DlpackTensor::new(mel, DataType::F32, &[zc::mel::N_FRAMES, N_MELS], None, 0)?;
                let same = std::ptr::eq(tensor.tensor().data.cast::<f32>(), ptr);
                drop(tensor);
                Ok(same)
            },
            |same| format!("same memory: {same}; the 1 alloc is the DLManagedTensor itself"),
        )?;
        if !same {
            return Err("DLPack tensor does not alias the mel buffer".into());
        }
        stages.push(s);

        Ok((stages, class, f64::from(distance)))
    }
}

fn skipped(name: &'static str, why: &str) -> Stage {
    Stage {
        name,
        time: Duration::ZERO,
        bytes_in: 0,
        ledger: LedgerReport::default(),
        allocs: AllocStats::default(),
        note: why.to_string(),
    }
}

/// The first clause of an error message (XRT's lists every path it tried).
fn short_reason(s: &str) -> &str {
    let s = s.lines().next().unwrap_or(s);
    s.split(';').next().unwrap_or(s).trim()
}

enum Input {
    Synthetic(Voice, u64),
    /// A WAV file and whether its samples can be read in place (16 kHz mono
    /// f32 with an aligned data chunk), decided once when it is opened.
    Wav(WavFile, bool),
}

impl Input {
    fn n_samples(&self) -> usize {
        match self {
            Input::Synthetic(..) => 5 * SR,
            Input::Wav(w, _) => w.info().num_samples(),
        }
    }
    fn describe(&self) -> String {
        match self {
            Input::Synthetic(v, seed) => format!("synthetic {} (seed {seed}), 5.0 s", v.name()),
            Input::Wav(w, _) => format!(
                "{} ({} Hz, {} ch, {:?}, {:.2} s)",
                w.path().display(),
                w.info().sample_rate,
                w.info().channels,
                w.info().format,
                w.info().duration_secs()
            ),
        }
    }
}

/// The end-to-end zc pipeline: audio → Volterra → log-mel → hypervectors →
/// item memory → GPU / NPU upload → ndarray + DLPack hand-off, with its own
/// copy and allocation table.
#[derive(clap::Parser)]
#[command(name = "pipeline")]
struct Args {
    /// A WAV file (16 kHz float is mapped in place; anything else is decoded
    /// once); without one, 5 s of generated speech-like audio.
    wav: Option<PathBuf>,
    /// Runs of the whole pipeline (at least 1; the last one is the steady state).
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// One JSON object per run instead of the table.
    #[arg(long)]
    json: bool,
    /// Where the class store lives (built on first run).
    #[arg(long, default_value_os_t = std::env::temp_dir().join("zc-pipeline").join(CLASS_STORE))]
    store: PathBuf,
}

fn parse_args() -> Result<Args> {
    let mut args = <Args as clap::Parser>::parse();
    args.repeat = args.repeat.max(1);
    Ok(args)
}

fn print_table(run: usize, stages: &[Stage], audio_secs: f64, class: &str) {
    println!("\nrun {run}: {class}");
    println!(
        "| {:<28} | {:>9} | {:>10} | {:>12} | {:>6} | note |",
        "stage", "time ms", "bytes in", "bytes copied", "allocs"
    );
    println!(
        "|{:-<30}|{:->11}|{:->12}|{:->14}|{:->8}|{:-<8}|",
        "", "", "", "", "", ""
    );
    let mut total = Duration::ZERO;
    for s in stages {
        total += s.time;
        println!(
            "| {:<28} | {:>9.3} | {:>10} | {:>12} | {:>6} | {} |",
            s.name,
            s.time.as_secs_f64() * 1e3,
            s.bytes_in,
            s.ledger.bytes_copied,
            s.allocs.heap_calls(),
            s.note
        );
    }
    let copies: u64 = stages.iter().map(|s| s.ledger.bytes_copied).sum();
    let allocs: u64 = stages.iter().map(|s| s.allocs.heap_calls()).sum();
    println!(
        "total {:.3} ms for {audio_secs:.2} s of audio: real-time factor {:.4} ({:.0}× faster than real time); {copies} bytes copied, {allocs} heap allocations",
        total.as_secs_f64() * 1e3,
        total.as_secs_f64() / audio_secs,
        audio_secs / total.as_secs_f64().max(1e-12),
    );
}

fn print_json(run: usize, stages: &[Stage], audio_secs: f64, class: &str, distance: f64) {
    let total: f64 = stages.iter().map(|s| s.time.as_secs_f64()).sum();
    let st: Vec<serde_json::Value> = stages
        .iter()
        .map(|s| {
            serde_json::json!({
                "stage": s.name,
                "time_ms": s.time.as_secs_f64() * 1e3,
                "bytes_in": s.bytes_in,
                "copies": s.ledger.copies,
                "bytes_copied": s.ledger.bytes_copied,
                "heap_allocations": s.allocs.heap_calls(),
                "note": s.note,
            })
        })
        .collect();
    let v = serde_json::json!({
        "run": run,
        "audio_seconds": audio_secs,
        "class": class,
        "distance": distance,
        "total_ms": total * 1e3,
        "real_time_factor": total / audio_secs,
        "stages": st,
    });
    println!("{v}");
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let input = match &args.wav {
        Some(p) => {
            let w = WavFile::open(p)?;
            let in_place = w.samples_f32().is_ok();
            Input::Wav(w, in_place)
        }
        None => Input::Synthetic(CLASSES[0], 7),
    };
    if let Input::Wav(w, _) = &input
        && w.info().sample_rate as usize != SR
    {
        return Err(format!(
            "{} is {} Hz; Whisper's log-mel needs 16 kHz (resample it first, e.g. `sox in.wav -r 16000 out.wav`)",
            w.path().display(),
            w.info().sample_rate
        )
        .into());
    }
    let t0 = Instant::now();
    let mut pipeline = Pipeline::new(&args.store)?;
    let setup = t0.elapsed();
    let audio_secs = input.n_samples() as f64 / SR as f64;
    if !args.json {
        println!("zc pipeline: {}", input.describe());
        println!(
            "setup (plans, pools, encoders, item memory): {:.1} ms; SIMD level for hv16: {}",
            setup.as_secs_f64() * 1e3,
            zc::hv16::Hamming::detect().simd_level().name()
        );
    }
    for run in 1..=args.repeat {
        let (stages, class, distance) = pipeline.run(&input)?;
        if args.json {
            print_json(run, &stages, audio_secs, &class, distance);
        } else if run == 1 || run == args.repeat {
            print_table(
                run,
                &stages,
                audio_secs,
                &format!("classified as {class} (distance {distance})"),
            );
        }
    }
    if !args.json {
        for p in [&pipeline.audio_pool, &pipeline.mel_pool, &pipeline.hv_pool] {
            let s = p.stats();
            println!(
                "pool {:<15} hits {:>4}  misses {:>3}  high-water {:>9} B",
                p.name(),
                s.hits,
                s.misses,
                s.high_water_bytes
            );
        }
    }
    Ok(())
}
