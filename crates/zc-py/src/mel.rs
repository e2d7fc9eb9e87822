//! `zc.mel`: Whisper log-mel (`zc_mel`), into numpy arrays or `out=`.
//!
//! A `zc_mel::MelSpectrogram` is an immutable plan shared by every Python
//! thread that calls it; each call borrows a `MelScratch` from a small
//! per-plan free list (allocated the first time a call needs one, reused
//! afterwards), so concurrent calls run in parallel with the GIL released.

use std::sync::{Mutex, OnceLock};

use numpy::ndarray::{Ix1, Ix2, Ix3};
use numpy::{PyArray2, PyArray3, PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use zc_mel::{Layout, MelConfig, MelError, MelScratch, MelSpectrogram, Normalization, Padding};

use crate::common::{self, Item, Kind, buffer_kind, chain, err};

/// A `MelError` as a `zc` exception with the Rust message.
fn mel_err(e: MelError) -> PyErr {
    err(kind_of(&e), chain(&e))
}

/// The exception class of a `MelError` (a batch item's error by its cause).
fn kind_of(e: &MelError) -> Kind {
    match e {
        MelError::TooShort { .. } | MelError::ViewTooSmall { .. } | MelError::BatchSize { .. } => Kind::Shape,
        MelError::BatchItem { source, .. } => kind_of(source),
        MelError::Buffer(b) => buffer_kind(b),
        MelError::Io { .. } => Kind::Os,
        MelError::InvalidWav { .. }
        | MelError::UnsupportedFormat { .. }
        | MelError::Truncated { .. }
        | MelError::RaggedData { .. } => Kind::FileFormat,
        MelError::Resample { .. } | MelError::ScratchMismatch { .. } => Kind::Runtime,
        _ => Kind::Value,
    }
}

fn parse_layout(layout: &str) -> PyResult<Layout> {
    match layout {
        "mel" => Ok(Layout::MelMajor),
        "frames" => Ok(Layout::FrameMajor),
        other => Err(err(
            Kind::Value,
            format!("layout must be \"mel\" (n_mels, frames) or \"frames\" (frames, n_mels), got {other:?}"),
        )),
    }
}

fn config(n_mels: usize, padding: usize, pad_to: Option<usize>) -> PyResult<MelConfig> {
    let pad = match (padding, pad_to) {
        (0, None) => Padding::None,
        (n, None) => Padding::Append(n),
        (0, Some(n)) => Padding::PadOrTrim(n),
        (_, Some(_)) => return Err(err(Kind::Value, "give padding or pad_to, not both")),
    };
    Ok(MelConfig::whisper(n_mels).padding(pad))
}

/// Compute with `plan` and `scratch` into `out` (given, or a new float32 array).
fn run<'py>(
    py: Python<'py>,
    plan: &MelSpectrogram,
    scratch: &mut MelScratch,
    audio: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let audio_a = common::input::<f32, Ix1>(audio, "audio", "float32")?;
    let samples = common::slice(&audio_a, "audio")?;
    let (rows, cols) = plan.output_shape(samples.len()).map_err(mel_err)?.dims();
    let out_obj = match out {
        Some(o) => o.clone(),
        None => PyArray2::<f32>::zeros(py, [rows, cols], false).into_any(),
    };
    {
        let mut out_a = common::output::<f32, Ix2>(&out_obj, "out", "float32")?;
        if out_a.shape() != [rows, cols] {
            return Err(err(
                Kind::Shape,
                format!(
                    "out has shape {:?}, the spectrogram needs ({rows}, {cols})",
                    out_a.shape()
                ),
            ));
        }
        let dst = common::slice_mut(&mut out_a, "out")?;
        common::kernel(py, || plan.compute_into_slice_with_scratch(samples, dst, scratch)).map_err(mel_err)?;
    }
    Ok(out_obj)
}

/// A process-wide set of plans with their scratch, one per configuration
/// in use at a time, so `log_mel` reuses FFT plans and scratch (no
/// allocation in steady state).
type CacheKey = (usize, usize, Option<usize>, Layout);
static PLANS: Mutex<Vec<(CacheKey, MelSpectrogram, MelScratch)>> = Mutex::new(Vec::new());

fn take_plan(key: CacheKey) -> PyResult<(MelSpectrogram, MelScratch)> {
    let mut plans = PLANS
        .lock()
        .map_err(|_| err(Kind::Runtime, "mel plan cache poisoned"))?;
    if let Some(i) = plans.iter().position(|p| p.0 == key) {
        let (_, plan, scratch) = plans.swap_remove(i);
        return Ok((plan, scratch));
    }
    drop(plans);
    let (n_mels, padding, pad_to, layout) = key;
    let plan = MelSpectrogram::builder(config(n_mels, padding, pad_to)?)
        .layout(layout)
        .build()
        .map_err(mel_err)?;
    let scratch = plan.make_scratch();
    Ok((plan, scratch))
}

fn give_plan(key: CacheKey, plan: MelSpectrogram, scratch: MelScratch) {
    if let Ok(mut plans) = PLANS.lock()
        && plans.len() < 64
    {
        plans.push((key, plan, scratch));
    }
}

/// Whisper's log-mel spectrogram of 16 kHz float32 `audio`
/// (`whisper.log_mel_spectrogram(audio, n_mels, padding)`): float32
/// `(n_mels, frames)`, or `(frames, n_mels)` with `layout="frames"`.
/// With `out=` (float32, C-contiguous, writeable, exactly that shape) the
/// result is written in place and returned: nothing is copied and
/// nothing allocated but rust-numpy's two borrow records (a few hundred
/// bytes, freed on return).
/// `pad_to=n` zero-pads or trims to `n` samples first (`pad_or_trim`).
#[pyfunction]
#[pyo3(signature = (audio, n_mels=80, padding=0, layout="mel", out=None, *, pad_to=None))]
fn log_mel<'py>(
    py: Python<'py>,
    audio: &Bound<'py, PyAny>,
    n_mels: usize,
    padding: usize,
    layout: &str,
    out: Option<&Bound<'py, PyAny>>,
    pad_to: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let key = (n_mels, padding, pad_to, parse_layout(layout)?);
    let (plan, mut scratch) = take_plan(key)?;
    let r = run(py, &plan, &mut scratch, audio, out);
    give_plan(key, plan, scratch);
    r
}

/// A reusable log-mel plan (FFT plan, filterbank, window), immutable and
/// shared: calls from several Python threads run in parallel (the GIL is
/// released), each with its own scratch taken from the plan's free list.
/// `threads` spreads one long clip's frames (or a batch's clips) over that
/// many workers (`0`: every core), output bit-identical to one thread; a
/// threaded call starts its workers and their scratch per call, a
/// one-thread call with `out=` allocates nothing but rust-numpy's two
/// borrow records (audio and `out`, freed when the call returns).
#[pyclass(module = "zc.mel", name = "MelSpectrogram", frozen)]
struct PyMelSpectrogram {
    /// The plan for `layout="mel"` and the one for `layout="frames"`.
    mel: MelSpectrogram,
    frames: MelSpectrogram,
    /// The same two with the clamp maximum taken per item (`batch(per_item=True)`),
    /// planned on first use and kept.
    per_item: OnceLock<(MelSpectrogram, MelSpectrogram)>,
    scratch: Mutex<Vec<MelScratch>>,
    n_mels: usize,
}

#[pymethods]
impl PyMelSpectrogram {
    #[new]
    #[pyo3(signature = (n_mels=80, padding=0, *, pad_to=None, threads=1))]
    fn new(n_mels: usize, padding: usize, pad_to: Option<usize>, threads: usize) -> PyResult<Self> {
        let mel = MelSpectrogram::builder(config(n_mels, padding, pad_to)?)
            .threads(threads)
            .layout(Layout::MelMajor)
            .build()
            .map_err(mel_err)?;
        let frames = mel.to_builder().layout(Layout::FrameMajor).build().map_err(mel_err)?;
        Ok(Self {
            mel,
            frames,
            per_item: OnceLock::new(),
            scratch: Mutex::new(Vec::new()),
            n_mels,
        })
    }

    /// Mel bands.
    #[getter]
    fn n_mels(&self) -> usize {
        self.n_mels
    }

    /// Worker threads per call (1: the calling thread only; a plan made
    /// with `threads=0` reports the cores it resolved to).
    #[getter]
    fn threads(&self) -> usize {
        self.mel.threads()
    }

    /// Frames produced for `n_samples` input samples.
    fn n_frames(&self, n_samples: usize) -> PyResult<usize> {
        self.mel.n_frames(n_samples).map_err(mel_err)
    }

    /// Output shape for `n_samples` samples in `layout`.
    #[pyo3(signature = (n_samples, layout="mel"))]
    fn output_shape(&self, n_samples: usize, layout: &str) -> PyResult<(usize, usize)> {
        Ok(self.plan(layout)?.output_shape(n_samples).map_err(mel_err)?.dims())
    }

    /// The log-mel of `audio` (see `zc.mel.log_mel`), into `out=` when given.
    #[pyo3(signature = (audio, layout="mel", out=None))]
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        audio: &Bound<'py, PyAny>,
        layout: &str,
        out: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let plan = self.plan(layout)?;
        let mut scratch = self.take_scratch(py)?;
        let r = run(py, plan, &mut scratch, audio, out);
        self.give_scratch(py, scratch);
        r
    }

    /// The log-mel of every clip in `clips` (float32 1-D arrays of any
    /// lengths) as one float32 `(len(clips), rows, cols)` array, where
    /// `(rows, cols)` is the largest clip's shape in `layout`; a shorter
    /// clip fills the top-left corner of its item and the rest of the item
    /// is left as it was (zeros in a new array). The clamp maximum is taken
    /// over the whole batch (as `whisper.log_mel_spectrogram` does for a
    /// batched tensor) unless `per_item=True`. Clips are spread over the
    /// plan's `threads`. With `out=` (float32, 3-D, writeable, any strides,
    /// at least that large in each dimension) nothing is allocated for the
    /// result; the binding allocates three small lists (the clips, their
    /// borrows, their slices) and one borrow record per array, none sized
    /// by the audio. The `per_item` plan is made on first use and kept.
    #[pyo3(signature = (clips, layout="mel", out=None, *, per_item=false))]
    fn batch<'py>(
        &self,
        py: Python<'py>,
        clips: Vec<Bound<'py, PyAny>>,
        layout: &str,
        out: Option<&Bound<'py, PyAny>>,
        per_item: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let base = self.plan(layout)?;
        let arrays = clips
            .iter()
            .enumerate()
            .map(|(i, c)| common::input::<f32, Ix1>(c, Item("clips", i), "float32"))
            .collect::<PyResult<Vec<PyReadonlyArray1<'py, f32>>>>()?;
        let slices = arrays
            .iter()
            .enumerate()
            .map(|(i, a)| common::slice(a, Item("clips", i)))
            .collect::<PyResult<Vec<&[f32]>>>()?;
        let (mut rows, mut cols) = (0, 0);
        for s in &slices {
            let (r, c) = base.output_shape(s.len()).map_err(mel_err)?.dims();
            rows = rows.max(r);
            cols = cols.max(c);
        }
        let plan = if per_item { self.per_item_plan(layout)? } else { base };
        let out_obj = match out {
            Some(o) => o.clone(),
            None => PyArray3::<f32>::zeros(py, [slices.len(), rows, cols], false).into_any(),
        };
        let mut out_a = common::output::<f32, Ix3>(&out_obj, "out", "float32")?;
        let shape = out_a.shape();
        if shape[0] != slices.len() || shape[1] < rows || shape[2] < cols {
            return Err(err(
                Kind::Shape,
                format!(
                    "out has shape {shape:?}, the batch needs ({}, {rows}, {cols}) (or larger in the last two)",
                    slices.len()
                ),
            ));
        }
        let view = out_a.as_array_mut();
        let mut scratch = self.take_scratch(py)?;
        let r = common::kernel(py, || plan.compute_batch_into_view(&slices, view, &mut scratch));
        self.give_scratch(py, scratch);
        r.map_err(mel_err)?;
        drop(out_a);
        Ok(out_obj)
    }

    /// The Slaney filterbank, float32 `(n_mels, n_fft/2 + 1)` (a copy).
    fn filters<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f32>> {
        PyArray2::from_owned_array(py, self.mel.filters().to_dense())
    }
}

impl PyMelSpectrogram {
    fn plan(&self, layout: &str) -> PyResult<&MelSpectrogram> {
        Ok(match parse_layout(layout)? {
            Layout::FrameMajor => &self.frames,
            _ => &self.mel,
        })
    }

    /// The per-item-maximum plan for `layout`, planned the first time a
    /// batch asks for it (the clamp rule is part of the plan's
    /// configuration, so it cannot share this plan's tables).
    fn per_item_plan(&self, layout: &str) -> PyResult<&MelSpectrogram> {
        let layout = parse_layout(layout)?;
        let pair = match self.per_item.get() {
            Some(p) => p,
            None => {
                let mel = MelSpectrogram::builder(self.mel.config().clone().normalization(Normalization::PerItem))
                    .layout(Layout::MelMajor)
                    .threads(self.mel.threads())
                    .simd(self.mel.simd_level())
                    .build()
                    .map_err(mel_err)?;
                let frames = mel.to_builder().layout(Layout::FrameMajor).build().map_err(mel_err)?;
                // a thread that planned meanwhile wins; both plans are the same
                let _ = self.per_item.set((mel, frames));
                self.per_item
                    .get()
                    .ok_or_else(|| err(Kind::Runtime, "per-item mel plan not stored"))?
            }
        };
        Ok(match layout {
            Layout::FrameMajor => &pair.1,
            _ => &pair.0,
        })
    }

    /// A scratch from the free list, or a new one when every scratch is in
    /// use by another call. Waiting for the list detaches from the
    /// interpreter (`lock_py_attached`), so it cannot deadlock with a
    /// holder that needs the GIL.
    fn take_scratch(&self, py: Python<'_>) -> PyResult<MelScratch> {
        let mut list = self
            .scratch
            .lock_py_attached(py)
            .map_err(|_| err(Kind::Runtime, "mel scratch list poisoned by a panic"))?;
        Ok(match list.pop() {
            Some(s) => s,
            None => {
                drop(list);
                self.mel.make_scratch()
            }
        })
    }

    fn give_scratch(&self, py: Python<'_>, scratch: MelScratch) {
        if let Ok(mut list) = self.scratch.lock_py_attached(py)
            && list.len() < 64
        {
            list.push(scratch);
        }
    }
}

/// Streaming log-mel: push chunks of any size, get the frames whose window
/// is complete, frame-major `(frames, n_mels)`; `finish()` flushes the
/// tail. Bit-identical to `log_mel(audio, layout="frames")` when the
/// offline call clamps at the same maximum: streaming cannot know the
/// clip's maximum in advance, so it takes `max_log10` (the clamp maximum
/// in log10 units, before Whisper's `(x + 4) / 4` scaling) from the caller.
/// A stream is one clip's state: use one per thread (a call while another
/// thread is inside `push` on the same stream raises `RuntimeError`).
#[pyclass(module = "zc.mel", name = "MelStream")]
struct PyMelStream {
    stream: zc_mel::MelStream,
}

#[pymethods]
impl PyMelStream {
    #[new]
    #[pyo3(signature = (n_mels=80, *, max_log10))]
    fn new(n_mels: usize, max_log10: f32) -> PyResult<Self> {
        let config = MelConfig::whisper(n_mels).normalization(Normalization::Fixed(max_log10));
        Ok(Self {
            stream: zc_mel::MelStream::new(config).map_err(mel_err)?,
        })
    }

    /// Mel bands.
    #[getter]
    fn n_mels(&self) -> usize {
        self.stream.n_mels()
    }

    /// Frames emitted so far.
    #[getter]
    fn frames_emitted(&self) -> usize {
        self.stream.frames_emitted()
    }

    /// Samples pushed so far.
    #[getter]
    fn samples_received(&self) -> usize {
        self.stream.samples_received()
    }

    /// Frames that pushing `n` more samples will emit (to size `out=`).
    fn frames_for_push(&self, n: usize) -> usize {
        self.stream.frames_for_push(n)
    }

    /// Frames that `finish()` will emit now.
    fn frames_for_finish(&self) -> PyResult<usize> {
        self.stream.frames_for_finish().map_err(mel_err)
    }

    /// Push float32 samples; returns the newly complete frames, float32
    /// `(frames, n_mels)` (possibly zero rows). With `out=` (float32,
    /// C-contiguous, writeable, at least `frames_for_push(len(chunk))` rows
    /// of `n_mels`) the frames are written into its first rows and that
    /// prefix view is returned; nothing is allocated for the result.
    #[pyo3(signature = (chunk, out=None))]
    fn push<'py>(
        &mut self,
        py: Python<'py>,
        chunk: &Bound<'py, PyAny>,
        out: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let chunk_a = common::input::<f32, Ix1>(chunk, "chunk", "float32")?;
        let samples = common::slice(&chunk_a, "chunk")?;
        let frames = self.stream.frames_for_push(samples.len());
        let stream = &mut self.stream;
        emit(py, frames, stream.n_mels(), out, |dst| {
            stream.push_into_slice(samples, dst)
        })
    }

    /// The remaining frames (the reflect-padded tail), float32
    /// `(frames, n_mels)`; `out=` as for `push`. The stream is then reset
    /// for the next clip (a too-short clip raises and leaves it as it was).
    #[pyo3(signature = (out=None))]
    fn finish<'py>(&mut self, py: Python<'py>, out: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        let frames = self.stream.frames_for_finish().map_err(mel_err)?;
        let stream = &mut self.stream;
        emit(py, frames, stream.n_mels(), out, |dst| stream.finish_into_slice(dst))
    }

    /// Forget the clip so far; keeps the plan and buffers.
    fn reset(&mut self) {
        self.stream.reset();
    }
}

/// Write `frames` frame-major rows through `f` into `out` (or a new array)
/// and return the `(frames, n_mels)` result.
fn emit<'py>(
    py: Python<'py>,
    frames: usize,
    n_mels: usize,
    out: Option<&Bound<'py, PyAny>>,
    f: impl FnOnce(&mut [f32]) -> Result<zc_mel::MelShape, MelError> + Send,
) -> PyResult<Bound<'py, PyAny>> {
    let out_obj = match out {
        Some(o) => o.clone(),
        None => PyArray2::<f32>::zeros(py, [frames, n_mels], false).into_any(),
    };
    {
        let mut out_a = common::output::<f32, Ix2>(&out_obj, "out", "float32")?;
        let shape = out_a.shape();
        if shape[1] != n_mels || shape[0] < frames {
            return Err(err(
                Kind::Shape,
                format!("out has shape {shape:?}, the stream emits ({frames}, {n_mels}) now (more rows are fine)"),
            ));
        }
        let dst = common::slice_mut(&mut out_a, "out")?;
        common::kernel(py, || f(dst)).map_err(mel_err)?;
    }
    if out.is_some() && out_obj.len()? != frames {
        return out_obj.get_item(pyo3::types::PySlice::new(py, 0, frames as isize, 1));
    }
    Ok(out_obj)
}

/// Load a WAV file as float32 mono 16 kHz samples (`numpy.ndarray`).
/// 16 kHz files are decoded (mono float32 files without conversion, one
/// copy out of the mapping into zc-owned aligned memory); other rates are
/// resampled to 16 kHz.
#[pyfunction]
fn load_wav<'py>(py: Python<'py>, path: std::path::PathBuf) -> PyResult<Bound<'py, PyAny>> {
    let wav = py.detach(|| zc_mel::WavFile::open(&path)).map_err(mel_err)?;
    let n = wav.info().num_samples_at(zc_mel::SAMPLE_RATE);
    let arr = crate::buffers::aligned_ndarray(py, crate::buffers::Elem::F32, vec![n])?;
    {
        let mut out = common::output::<f32, Ix1>(&arr, "out", "float32")?;
        let dst = common::slice_mut(&mut out, "out")?;
        common::kernel(py, || {
            if wav.info().sample_rate == zc_mel::SAMPLE_RATE {
                wav.decode_into_slice(dst)
            } else {
                let mut r = zc_mel::Resampler::new(wav.info().sample_rate)?;
                wav.decode_resampled_into_with(&mut r, dst)
            }
        })
        .map_err(mel_err)?;
    }
    Ok(arr)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyMelSpectrogram>()?;
    m.add_class::<PyMelStream>()?;
    m.add_function(wrap_pyfunction!(log_mel, m)?)?;
    m.add_function(wrap_pyfunction!(load_wav, m)?)?;
    m.add("SAMPLE_RATE", zc_mel::SAMPLE_RATE)?;
    m.add("N_FFT", zc_mel::N_FFT)?;
    m.add("HOP_LENGTH", zc_mel::HOP_LENGTH)?;
    m.add("N_SAMPLES", zc_mel::N_SAMPLES)?;
    m.add("N_FRAMES", zc_mel::N_FRAMES)?;
    Ok(())
}
