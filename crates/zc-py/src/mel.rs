//! `zc.mel`: Whisper log-mel (`zc_mel`), into numpy arrays or `out=`.

use std::sync::Mutex;

use numpy::{PyArray2, PyUntypedArrayMethods};
use numpy::ndarray::{Ix1, Ix2};
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use zc_mel::{Layout, MelConfig, MelError, Padding};

use crate::common::{self, Kind, buffer_kind, chain, err};

/// A `MelError` as a `zc` exception with the Rust message.
fn mel_err(e: MelError) -> PyErr {
    let kind = match &e {
        MelError::ShapeMismatch { .. } | MelError::TooShort { .. } => Kind::Shape,
        MelError::BatchSize { .. } => Kind::Shape,
        MelError::Buffer(b) => buffer_kind(b),
        MelError::Io { .. } => Kind::Os,
        MelError::InvalidWav { .. }
        | MelError::UnsupportedFormat { .. }
        | MelError::Truncated { .. }
        | MelError::RaggedData { .. } => Kind::FileFormat,
        MelError::Fft { .. } | MelError::Resample { .. } => Kind::Runtime,
        _ => Kind::Value,
    };
    err(kind, chain(&e))
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
    Ok(MelConfig::whisper(n_mels).with_padding(pad))
}

/// Compute with `plan` into `out` (given, or a new float32 array).
fn run<'py>(
    py: Python<'py>,
    plan: &mut zc_mel::MelSpectrogram,
    audio: &Bound<'py, PyAny>,
    layout: Layout,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let audio_a = common::input::<f32, Ix1>(audio, "audio", "float32")?;
    let samples = common::slice(&audio_a, "audio")?;
    let (rows, cols) = plan.output_shape(samples.len(), layout).map_err(mel_err)?;
    let out_obj = match out {
        Some(o) => o.clone(),
        None => PyArray2::<f32>::zeros(py, [rows, cols], false).into_any(),
    };
    {
        let mut out_a = common::output::<f32, Ix2>(&out_obj, "out", "float32")?;
        if out_a.shape() != [rows, cols] {
            return Err(err(
                Kind::Shape,
                format!("out has shape {:?}, the spectrogram needs ({rows}, {cols})", out_a.shape()),
            ));
        }
        let dst = common::slice_mut(&mut out_a, "out")?;
        common::kernel(py, || plan.compute_into_slice(samples, dst, layout)).map_err(mel_err)?;
    }
    Ok(out_obj)
}

/// A process-wide set of plans, one per configuration in use at a time,
/// so `log_mel` reuses FFT plans and scratch (no allocation in steady state).
static PLANS: Mutex<Vec<(usize, usize, Option<usize>, zc_mel::MelSpectrogram)>> = Mutex::new(Vec::new());

fn take_plan(n_mels: usize, padding: usize, pad_to: Option<usize>) -> PyResult<zc_mel::MelSpectrogram> {
    let mut plans = PLANS.lock().map_err(|_| err(Kind::Runtime, "mel plan cache poisoned"))?;
    if let Some(i) = plans.iter().position(|p| (p.0, p.1, p.2) == (n_mels, padding, pad_to)) {
        return Ok(plans.swap_remove(i).3);
    }
    drop(plans);
    zc_mel::MelSpectrogram::new(config(n_mels, padding, pad_to)?).map_err(mel_err)
}

fn give_plan(n_mels: usize, padding: usize, pad_to: Option<usize>, plan: zc_mel::MelSpectrogram) {
    if let Ok(mut plans) = PLANS.lock()
        && plans.len() < 64
    {
        plans.push((n_mels, padding, pad_to, plan));
    }
}

/// Whisper's log-mel spectrogram of 16 kHz float32 `audio`
/// (`whisper.log_mel_spectrogram(audio, n_mels, padding)`): float32
/// `(n_mels, frames)`, or `(frames, n_mels)` with `layout="frames"`.
/// With `out=` (float32, C-contiguous, writeable, exactly that shape) the
/// result is written in place and returned; nothing is allocated or copied.
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
    let layout = parse_layout(layout)?;
    let mut plan = take_plan(n_mels, padding, pad_to)?;
    let r = run(py, &mut plan, audio, layout, out);
    give_plan(n_mels, padding, pad_to, plan);
    r
}

/// A reusable log-mel plan (FFT plan, filterbank, scratch). Calls on one
/// plan are serialised; make one plan per thread for parallel work, or
/// give `threads` to spread one long clip over cores.
#[pyclass(module = "zc.mel", name = "MelSpectrogram", frozen)]
struct PyMelSpectrogram {
    plan: Mutex<zc_mel::MelSpectrogram>,
    n_mels: usize,
}

#[pymethods]
impl PyMelSpectrogram {
    #[new]
    #[pyo3(signature = (n_mels=80, padding=0, *, pad_to=None, threads=1))]
    fn new(n_mels: usize, padding: usize, pad_to: Option<usize>, threads: usize) -> PyResult<Self> {
        let plan = zc_mel::MelSpectrogram::new(config(n_mels, padding, pad_to)?)
            .map_err(mel_err)?
            .with_threads(threads);
        Ok(Self {
            plan: Mutex::new(plan),
            n_mels,
        })
    }

    /// Mel bands.
    #[getter]
    fn n_mels(&self) -> usize {
        self.n_mels
    }

    /// Frames produced for `n_samples` input samples.
    fn n_frames(&self, py: Python<'_>, n_samples: usize) -> PyResult<usize> {
        self.lock(py)?.n_frames(n_samples).map_err(mel_err)
    }

    /// Output shape for `n_samples` samples in `layout`.
    #[pyo3(signature = (n_samples, layout="mel"))]
    fn output_shape(&self, py: Python<'_>, n_samples: usize, layout: &str) -> PyResult<(usize, usize)> {
        self.lock(py)?
            .output_shape(n_samples, parse_layout(layout)?)
            .map_err(mel_err)
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
        let layout = parse_layout(layout)?;
        let mut plan = self.lock(py)?;
        run(py, &mut plan, audio, layout, out)
    }

    /// The Slaney filterbank, float32 `(n_mels, n_fft/2 + 1)` (a copy).
    fn filters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let dense = self.lock(py)?.filters().to_dense();
        Ok(PyArray2::from_owned_array(py, dense))
    }
}

impl PyMelSpectrogram {
    /// Calls on one plan are serialised; waiting detaches from the
    /// interpreter (`lock_py_attached`), so a holder that needs the GIL to
    /// finish its call cannot deadlock with us.
    fn lock(&self, py: Python<'_>) -> PyResult<std::sync::MutexGuard<'_, zc_mel::MelSpectrogram>> {
        self.plan.lock_py_attached(py).map_err(|_| err(Kind::Runtime, "plan poisoned by a panic"))
    }
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
    m.add_function(wrap_pyfunction!(log_mel, m)?)?;
    m.add_function(wrap_pyfunction!(load_wav, m)?)?;
    m.add("SAMPLE_RATE", zc_mel::SAMPLE_RATE)?;
    m.add("N_FFT", zc_mel::N_FFT)?;
    m.add("HOP_LENGTH", zc_mel::HOP_LENGTH)?;
    m.add("N_SAMPLES", zc_mel::N_SAMPLES)?;
    m.add("N_FRAMES", zc_mel::N_FRAMES)?;
    Ok(())
}
