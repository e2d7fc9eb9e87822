//! `zc.volterra`: Volterra kernels (`zc_volterra::Kernel`) from numpy arrays
//! or py-volterra NPZ files, and the streaming `Processor` in float32 and
//! float64.

use std::sync::Mutex;

use numpy::ndarray::Ix1;
use numpy::{PyArray1, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use zc_volterra::{MAX_ORDER, VolterraError};

use crate::common::{self, Kind, buffer_kind, chain, err};

fn vol_err(e: VolterraError) -> PyErr {
    let kind = match &e {
        VolterraError::H2Shape { .. } => Kind::Shape,
        VolterraError::Io { .. } => Kind::Os,
        VolterraError::Npz { .. } => Kind::FileFormat,
        VolterraError::Buffer(b) => buffer_kind(b),
        VolterraError::Fft { .. } => Kind::Runtime,
        _ => Kind::Value,
    };
    err(kind, chain(&e))
}

/// The float64 values of a 1-D or 2-D float64 array (contiguous, no copy).
fn taps(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<(Vec<f64>, Option<usize>)> {
    let a = obj
        .cast::<PyUntypedArray>()
        .map_err(|_| err(Kind::DType, format!("{what} must be a numpy float64 array")))?;
    match a.ndim() {
        1 => {
            let r = common::input::<f64, Ix1>(obj, what, "float64")?;
            Ok((common::slice(&r, what)?.to_vec(), None))
        }
        2 => {
            let r = common::input::<f64, numpy::ndarray::Ix2>(obj, what, "float64")?;
            let (n, m) = (r.shape()[0], r.shape()[1]);
            if n != m {
                return Err(err(
                    Kind::Shape,
                    format!("{what} must be square (N, N), got ({n}, {m})"),
                ));
            }
            Ok((common::slice(&r, what)?.to_vec(), Some(n)))
        }
        d => Err(err(
            Kind::Shape,
            format!("{what} must be 1-D (diagonal) or 2-D (full), got {d}-D"),
        )),
    }
}

/// A Volterra kernel up to order 5: `h1`, `h2` (1-D diagonal taps or a
/// full symmetric `(N, N)` matrix), `h3`..`h5` diagonal taps, all float64.
/// Building a kernel copies the taps into the kernel (it owns them).
#[pyclass(module = "zc.volterra", name = "Kernel", frozen)]
#[derive(Clone)]
struct PyKernel {
    kernel: zc_volterra::Kernel,
}

#[pymethods]
impl PyKernel {
    #[new]
    #[pyo3(signature = (h1=None, h2=None, h3=None, h4=None, h5=None))]
    fn new(
        h1: Option<&Bound<'_, PyAny>>,
        h2: Option<&Bound<'_, PyAny>>,
        h3: Option<&Bound<'_, PyAny>>,
        h4: Option<&Bound<'_, PyAny>>,
        h5: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let mut diag: [Vec<f64>; MAX_ORDER] = Default::default();
        let mut full = None;
        for (p, (h, name)) in [(h1, "h1"), (h2, "h2"), (h3, "h3"), (h4, "h4"), (h5, "h5")]
            .into_iter()
            .enumerate()
        {
            let Some(h) = h else { continue };
            let (v, n) = taps(h, name)?;
            match n {
                None => diag[p] = v,
                Some(n) if p == 1 => full = Some((n, v)),
                Some(_) => return Err(err(Kind::Shape, format!("{name} must be 1-D (diagonal taps)"))),
            }
        }
        Ok(Self {
            kernel: zc_volterra::Kernel::new(diag, full).map_err(vol_err)?,
        })
    }

    /// Load a kernel saved by py-volterra (`VolterraKernelFull.to_npz`) or `save_npz`.
    #[staticmethod]
    fn from_npz(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Self> {
        let kernel = py.detach(|| zc_volterra::npz::load_npz(&path)).map_err(vol_err)?;
        Ok(Self { kernel })
    }

    /// Save in py-volterra's NPZ layout.
    fn save_npz(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<()> {
        py.detach(|| zc_volterra::npz::save_npz(&self.kernel, &path))
            .map_err(vol_err)
    }

    /// Diagonal taps of order `p` (1..=5), float64 (a copy; empty when absent).
    fn taps<'py>(&self, py: Python<'py>, p: usize) -> PyResult<Bound<'py, PyArray1<f64>>> {
        if !(1..=MAX_ORDER).contains(&p) {
            return Err(err(Kind::Value, format!("order must be 1..={MAX_ORDER}, got {p}")));
        }
        Ok(PyArray1::from_slice(py, self.kernel.taps(p)))
    }

    /// Highest order present.
    #[getter]
    fn max_order(&self) -> usize {
        self.kernel.max_order()
    }

    /// Memory (longest kernel) in samples.
    #[getter]
    fn memory(&self) -> usize {
        self.kernel.memory()
    }

    fn __repr__(&self) -> String {
        format!(
            "zc.volterra.Kernel(max_order={}, memory={})",
            self.kernel.max_order(),
            self.kernel.memory()
        )
    }
}

enum Proc {
    F32(zc_volterra::Processor<f32>),
    F64(zc_volterra::Processor<f64>),
}

/// Streaming Volterra filter: `process` keeps the history between calls,
/// so consecutive blocks give the same output as one long call. Blocks of
/// any length are accepted (processed `max_block` samples at a time).
#[pyclass(module = "zc.volterra", name = "Processor", frozen)]
struct PyProcessor {
    proc: Mutex<Proc>,
    max_block: usize,
    dtype: &'static str,
}

fn process_typed<'py, T: numpy::Element + zc_volterra::Sample>(
    py: Python<'py>,
    p: &mut zc_volterra::Processor<T>,
    x: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
    dtype: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let xa = common::input::<T, Ix1>(x, "x", dtype)?;
    let xs = common::slice(&xa, "x")?;
    let out_obj = match out {
        Some(o) => o.clone(),
        None => PyArray1::<T>::zeros(py, [xs.len()], false).into_any(),
    };
    let mut oa = common::output::<T, Ix1>(&out_obj, "out", dtype)?;
    if oa.len() != xs.len() {
        return Err(err(
            Kind::Shape,
            format!("out holds {} samples, x has {}", oa.len(), xs.len()),
        ));
    }
    let os = common::slice_mut(&mut oa, "out")?;
    // Any length: the processor runs blocks of `max_block` itself.
    common::kernel(py, || -> Result<usize, VolterraError> { p.process_into_slice(xs, os) }).map_err(vol_err)?;
    drop(oa);
    Ok(out_obj)
}

#[pymethods]
impl PyProcessor {
    #[new]
    #[pyo3(signature = (kernel, max_block, dtype="float32"))]
    fn new(py: Python<'_>, kernel: &PyKernel, max_block: usize, dtype: &str) -> PyResult<Self> {
        let k = &kernel.kernel;
        let (proc, dtype) = match dtype {
            "float32" | "f4" => (
                Proc::F32(
                    py.detach(|| zc_volterra::Processor::prepare(k, max_block))
                        .map_err(vol_err)?,
                ),
                "float32",
            ),
            "float64" | "f8" => (
                Proc::F64(
                    py.detach(|| zc_volterra::Processor::prepare(k, max_block))
                        .map_err(vol_err)?,
                ),
                "float64",
            ),
            other => {
                return Err(err(
                    Kind::DType,
                    format!("dtype must be float32 or float64, got {other:?}"),
                ));
            }
        };
        Ok(Self {
            proc: Mutex::new(proc),
            max_block,
            dtype,
        })
    }

    /// Filter the next block `x` (1-D, the processor's dtype); returns `out`
    /// (given, or new). With `out=` nothing is allocated or copied.
    #[pyo3(signature = (x, out=None))]
    fn process<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        out: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut guard = self
            .proc
            .lock_py_attached(py)
            .map_err(|_| err(Kind::Runtime, "processor poisoned by a panic"))?;
        match &mut *guard {
            Proc::F32(p) => process_typed(py, p, x, out, "float32"),
            Proc::F64(p) => process_typed(py, p, x, out, "float64"),
        }
    }

    /// Forget the history (start a new stream).
    fn reset(&self, py: Python<'_>) -> PyResult<()> {
        let mut guard = self
            .proc
            .lock_py_attached(py)
            .map_err(|_| err(Kind::Runtime, "processor poisoned by a panic"))?;
        match &mut *guard {
            Proc::F32(p) => p.reset(),
            Proc::F64(p) => p.reset(),
        }
        Ok(())
    }

    /// The most samples one engine call takes (longer blocks are split).
    #[getter]
    fn max_block(&self) -> usize {
        self.max_block
    }

    /// `"float32"` or `"float64"`.
    #[getter]
    fn dtype(&self) -> &'static str {
        self.dtype
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyKernel>()?;
    m.add_class::<PyProcessor>()?;
    m.add("MAX_ORDER", MAX_ORDER)?;
    Ok(())
}
