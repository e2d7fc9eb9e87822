//! `zc.hv16`: 2048-bit hypervectors as packed `uint8[..., 256]` arrays
//! (`zc_hv16`): the memory-mapped store and its exact top-k search in
//! FAISS's convention, and the algebra (`bind`, `bundle`, `permute`,
//! `hamming`).
//!
//! `HV16` is 64-byte aligned. Store vectors always are (they are mapped
//! at a page offset), and so are arrays from `zc.hv16.empty`; other arrays
//! (numpy aligns to 16) are read through a realigning copy that is recorded
//! in the ledger as `realign` — pass aligned arrays to avoid it.

use std::ptr::NonNull;
use std::sync::{Arc, Mutex, RwLock};

use numpy::ndarray::{Ix1, Ix2};
use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::sync::{MutexExt, RwLockExt};
use zc_buffers::ledger::{self, CopyKind};
use zc_buffers::{AlignedBuf, HostBufferExt, HostBufferMutExt};
use zc_hv16::{BYTES, HV16, Hamming, Hit, HvError};

use crate::buffers::{Elem, Owner, PyBuffer};
use crate::common::{self, Kind, buffer_err, buffer_kind, chain, err};

fn hv_err(e: HvError) -> PyErr {
    let kind = match &e {
        HvError::Locked { .. } => Kind::Os,
        HvError::Buffer(b) => buffer_kind(b),
        HvError::TruncatedHeader { .. }
        | HvError::BadMagic { .. }
        | HvError::HeaderChecksum { .. }
        | HvError::UnsupportedVersion { .. }
        | HvError::WrongDimension { .. }
        | HvError::BadDataOffset { .. }
        | HvError::CountExceedsFile { .. }
        | HvError::DataChecksum { .. }
        | HvError::ReservedNotZero { .. }
        | HvError::CorruptNames { .. }
        | HvError::NamesChecksum { .. } => Kind::FileFormat,
        HvError::Empty => Kind::Shape,
        _ => Kind::Value,
    };
    err(kind, chain(&e))
}

/// A borrowed `uint8[n, 256]` input (a 1-D `uint8[256]` is one vector).
fn hv_input<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<PyReadonlyArray2<'py, u8>> {
    let obj = match obj.cast::<numpy::PyUntypedArray>() {
        Ok(a) if a.ndim() == 1 => obj.call_method1("reshape", ((1usize, a.len()),))?,
        _ => obj.clone(),
    };
    let a = common::input::<u8, Ix2>(&obj, what, "uint8")?;
    if a.shape()[1] != BYTES {
        return Err(err(
            Kind::Shape,
            format!(
                "{what} must have {BYTES} bytes per vector (2048 bits), got shape {:?}",
                a.shape()
            ),
        ));
    }
    Ok(a)
}

/// Vectors over `bytes` in place when 64-byte aligned, else through a
/// realigning copy (recorded in the ledger).
enum Hvs<'a> {
    InPlace(&'a [HV16]),
    Realigned(AlignedBuf),
}

impl<'a> Hvs<'a> {
    /// Call inside [`common::kernel`] so the copy is recorded.
    fn new(bytes: &'a [u8]) -> PyResult<Self> {
        if let Ok(v) = HV16::cast_slice(bytes) {
            return Ok(Hvs::InPlace(v));
        }
        let mut buf = AlignedBuf::zeroed(bytes.len().max(BYTES)).map_err(buffer_err)?;
        let dst = buf.as_slice_mut::<u8>().map_err(buffer_err)?;
        ledger::copy_bytes(&mut dst[..bytes.len()], bytes, CopyKind::Realign).map_err(buffer_err)?;
        Ok(Hvs::Realigned(buf))
    }

    fn get(&self, n: usize) -> &[HV16] {
        match self {
            Hvs::InPlace(v) => v,
            Hvs::Realigned(b) => b.as_slice::<HV16>().map(|v| &v[..n.min(v.len())]).unwrap_or(&[]),
        }
    }
}

/// A store's mapping as a `Buffer` owner (read-only).
struct StoreOwner(Arc<zc_hv16::HvStore>);

impl Owner for StoreOwner {
    fn ptr(&self) -> NonNull<u8> {
        NonNull::new(self.0.vectors().as_ptr() as *mut u8).unwrap_or(NonNull::dangling())
    }
    fn len(&self) -> usize {
        self.0.len() * BYTES
    }
    fn align(&self) -> usize {
        64
    }
    fn residency(&self) -> zc_buffers::Residency {
        zc_buffers::Residency::Mmap
    }
}

/// A memory-mapped store of 2048-bit vectors (`zc_hv16::HvStore`).
///
/// `HvStore(path)` opens read-only (header and data checksums verified,
/// vectors mapped in place); `HvStore.create(path)` / `HvStore.open_rw(path)`
/// open for appending under the store's writer lock. Searches read the
/// mapping directly. `vectors` is a read-only numpy view of the mapping
/// that keeps the store alive; a writable store cannot `append` while such
/// a view (or a running search) exists, because appending may remap.
#[pyclass(module = "zc.hv16", name = "HvStore", frozen)]
struct PyHvStore {
    store: RwLock<Arc<zc_hv16::HvStore>>,
    hits: Mutex<Vec<Hit>>,
}

impl PyHvStore {
    fn wrap(s: zc_hv16::HvStore) -> Self {
        Self {
            store: RwLock::new(Arc::new(s)),
            hits: Mutex::new(Vec::new()),
        }
    }

    /// The store (an `Arc` clone). Locks are taken with PyO3's
    /// `*_py_attached`, which detaches while waiting: a holder may itself be
    /// waiting for the GIL at the end of a kernel.
    fn current(&self, py: Python<'_>) -> PyResult<Arc<zc_hv16::HvStore>> {
        Ok(self
            .store
            .read_py_attached(py)
            .map_err(|_| err(Kind::Runtime, "store lock poisoned"))?
            .clone())
    }
}

#[pymethods]
impl PyHvStore {
    #[new]
    #[pyo3(signature = (path, *, verify=true))]
    fn open(py: Python<'_>, path: std::path::PathBuf, verify: bool) -> PyResult<Self> {
        let s = py
            .detach(|| zc_hv16::HvStore::open_with(&path, zc_hv16::OpenOptions::new().verify(verify)))
            .map_err(hv_err)?;
        Ok(Self::wrap(s))
    }

    /// Create (or truncate) a store at `path`, open for appending.
    #[staticmethod]
    fn create(path: std::path::PathBuf) -> PyResult<Self> {
        Ok(Self::wrap(zc_hv16::HvStore::create(&path).map_err(hv_err)?))
    }

    /// Open an existing store for reading and appending (takes the writer lock).
    #[staticmethod]
    fn open_rw(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Self> {
        Ok(Self::wrap(
            py.detach(|| zc_hv16::HvStore::open_rw(&path)).map_err(hv_err)?,
        ))
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.current(py)?.len())
    }

    /// Whether the store was opened for appending.
    #[getter]
    fn writable(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.current(py)?.is_writable())
    }

    /// The vectors as a read-only `uint8[n, 256]` numpy array over the
    /// mapping (no copy); the array keeps the store alive.
    #[getter]
    fn vectors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let s = self.current(py)?;
        let n = s.len();
        if n == 0 {
            return Ok(PyArray2::<u8>::zeros(py, [0, BYTES], false).into_any());
        }
        PyBuffer::new(Arc::new(StoreOwner(s)), Elem::U8, vec![n, BYTES], true)?.into_ndarray(py)
    }

    /// Append `uint8[n, 256]` vectors; returns the index of the first.
    fn append(&self, py: Python<'_>, vectors: &Bound<'_, PyAny>) -> PyResult<usize> {
        let a = hv_input(vectors, "vectors")?;
        let n = a.shape()[0];
        let bytes = common::slice(&a, "vectors")?;
        let mut guard = self
            .store
            .write_py_attached(py)
            .map_err(|_| err(Kind::Runtime, "store lock poisoned"))?;
        let store = Arc::get_mut(&mut guard).ok_or_else(|| {
            err(
                Kind::Runtime,
                "cannot append while numpy views of `vectors` (or a search) hold the mapping; delete them first",
            )
        })?;
        common::kernel(py, || -> PyResult<usize> {
            let hvs = Hvs::new(bytes)?;
            store.append(hvs.get(n)).map_err(hv_err)
        })
    }

    /// Exact top-`k` Hamming search of `queries` (`uint8[m, 256]`):
    /// `(distances int32[m, k], indices int64[m, k])`, nearest first, ties
    /// by index (FAISS `IndexBinaryFlat.search`). With `out=(D, I)` the
    /// results are written there.
    #[pyo3(signature = (queries, k, out=None))]
    fn search<'py>(
        &self,
        py: Python<'py>,
        queries: &Bound<'py, PyAny>,
        k: usize,
        out: Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let q = hv_input(queries, "queries")?;
        let m = q.shape()[0];
        let qbytes = common::slice(&q, "queries")?;
        let (d_obj, i_obj) = match out {
            Some(o) => o,
            None => (
                PyArray2::<i32>::zeros(py, [m, k], false).into_any(),
                PyArray2::<i64>::zeros(py, [m, k], false).into_any(),
            ),
        };
        let store = self.current(py)?;
        let mut d = common::output::<i32, Ix2>(&d_obj, "distances", "int32")?;
        let mut i = common::output::<i64, Ix2>(&i_obj, "indices", "int64")?;
        for (name, shape) in [("distances", d.shape()), ("indices", i.shape())] {
            if shape != [m, k] {
                return Err(err(
                    Kind::Shape,
                    format!("{name} has shape {shape:?}, expected ({m}, {k})"),
                ));
            }
        }
        let (dd, ii) = (
            common::slice_mut(&mut d, "distances")?,
            common::slice_mut(&mut i, "indices")?,
        );
        let mut guard = self
            .hits
            .lock_py_attached(py)
            .map_err(|_| err(Kind::Runtime, "scratch poisoned"))?;
        let hits: &mut Vec<Hit> = &mut guard;
        let need = m.checked_mul(k).ok_or_else(|| err(Kind::Shape, "m * k overflows"))?;
        common::kernel(py, || -> PyResult<()> {
            if hits.len() < need {
                hits.resize(need, Hit::default());
            }
            let hv = Hvs::new(qbytes)?;
            let hits = &mut hits[..need];
            Hamming::detect()
                .top_k_batch_into_slice(hv.get(m), store.vectors(), k, hits)
                .map_err(hv_err)?;
            // FAISS layout: two arrays instead of (u32, usize) pairs.
            for ((h, dst_d), dst_i) in hits.iter().zip(dd.iter_mut()).zip(ii.iter_mut()) {
                *dst_d = h.distance as i32;
                *dst_i = h.index as i64;
            }
            ledger::record_copy(CopyKind::Convert, need * 12);
            Ok(())
        })?;
        drop((d, i));
        Ok((d_obj, i_obj))
    }

    /// Verify the data checksum (reads every vector).
    fn verify(&self, py: Python<'_>) -> PyResult<()> {
        let s = self.current(py)?;
        py.detach(|| s.verify()).map_err(hv_err)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let s = self.current(py)?;
        Ok(format!(
            "zc.hv16.HvStore({:?}, n={}, writable={})",
            s.path(),
            s.len(),
            s.is_writable()
        ))
    }
}

/// A zeroed, 64-byte-aligned `uint8[n, 256]` array (zero-copy input for every call here).
#[pyfunction]
fn empty<'py>(py: Python<'py>, n: usize) -> PyResult<Bound<'py, PyAny>> {
    crate::buffers::aligned_ndarray(py, Elem::U8, vec![n, BYTES])
}

/// `n` random vectors from seeds `seed, seed+1, …` (SplitMix64, `HV16::random`).
#[pyfunction]
#[pyo3(signature = (n, seed=0))]
fn random<'py>(py: Python<'py>, n: usize, seed: u64) -> PyResult<Bound<'py, PyAny>> {
    let arr = empty(py, n)?;
    {
        let mut o = common::output::<u8, Ix2>(&arr, "out", "uint8")?;
        let dst = HV16::cast_slice_mut(common::slice_mut(&mut o, "out")?).map_err(hv_err)?;
        common::kernel(py, || {
            for (i, v) in dst.iter_mut().enumerate() {
                *v = HV16::random(seed.wrapping_add(i as u64));
            }
        });
    }
    Ok(arr)
}

/// Run `f(a_row, b_row, out_row)` over rows (b broadcast when it has one row).
fn rowwise<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    b: Option<&Bound<'py, PyAny>>,
    out: Option<&Bound<'py, PyAny>>,
    f: impl Fn(&HV16, &HV16, &mut HV16) + Send + Sync,
) -> PyResult<Bound<'py, PyAny>> {
    let a_arr = hv_input(a, "a")?;
    let n = a_arr.shape()[0];
    let b_arr = match b {
        Some(b) => Some(hv_input(b, "b")?),
        None => None,
    };
    if let Some(b) = &b_arr
        && b.shape()[0] != n
        && b.shape()[0] != 1
    {
        return Err(err(
            Kind::Shape,
            format!("a has {n} vectors, b has {} (and not 1)", b.shape()[0]),
        ));
    }
    let out_obj = match out {
        Some(o) => o.clone(),
        None => empty(py, n)?,
    };
    let mut o = common::output::<u8, Ix2>(&out_obj, "out", "uint8")?;
    if o.shape() != [n, BYTES] {
        return Err(err(
            Kind::Shape,
            format!("out has shape {:?}, expected ({n}, {BYTES})", o.shape()),
        ));
    }
    let ab = common::slice(&a_arr, "a")?;
    let bb = match &b_arr {
        Some(b) => Some((common::slice(b, "b")?, b.shape()[0])),
        None => None,
    };
    let ob = common::slice_mut(&mut o, "out")?;
    common::kernel(py, || -> PyResult<()> {
        let av = Hvs::new(ab)?;
        let bv = match bb {
            Some((bytes, nb)) => Some((Hvs::new(bytes)?, nb)),
            None => None,
        };
        let zero = HV16::zero();
        let run = |dst: &mut [HV16]| {
            for (r, d) in dst.iter_mut().enumerate() {
                let other = match &bv {
                    Some((v, nb)) => &v.get(*nb)[if *nb == 1 { 0 } else { r }],
                    None => &zero,
                };
                f(&av.get(n)[r], other, d);
            }
        };
        match HV16::cast_slice_mut(ob) {
            Ok(dst) => run(dst),
            Err(_) => {
                let mut tmp = AlignedBuf::zeroed(ob.len().max(BYTES)).map_err(buffer_err)?;
                let t = tmp.as_slice_mut::<HV16>().map_err(buffer_err)?;
                run(&mut t[..n]);
                let src = &tmp.as_slice::<u8>().map_err(buffer_err)?[..ob.len()];
                ledger::copy_bytes(ob, src, CopyKind::Realign).map_err(buffer_err)?;
            }
        }
        Ok(())
    })?;
    drop(o);
    Ok(out_obj)
}

/// XOR binding of `a` and `b` (`uint8[n, 256]`; `b` may be one vector).
#[pyfunction]
#[pyo3(signature = (a, b, out=None))]
fn bind<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    rowwise(py, a, Some(b), out, |x, y, o| x.bind_into(y, o))
}

/// Cyclic shift of every vector by `k` bits (`HV16::permute`).
#[pyfunction]
#[pyo3(signature = (a, k, out=None))]
fn permute<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    k: usize,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    rowwise(py, a, None, out, move |x, _, o| x.permute_into(k, o))
}

/// Majority bundle of `uint8[n, 256]` vectors (ties broken by the crate's
/// fixed tie-break vector): one `uint8[256]` vector.
#[pyfunction]
fn bundle<'py>(py: Python<'py>, vectors: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let a = hv_input(vectors, "vectors")?;
    let n = a.shape()[0];
    let bytes = common::slice(&a, "vectors")?;
    let out = crate::buffers::aligned_ndarray(py, Elem::U8, vec![BYTES])?;
    {
        let mut o = common::output::<u8, Ix1>(&out, "out", "uint8")?;
        let dst = HV16::cast_slice_mut(common::slice_mut(&mut o, "out")?).map_err(hv_err)?;
        common::kernel(py, || -> PyResult<()> {
            let hv = Hvs::new(bytes)?;
            dst[0] = zc_hv16::bundle(hv.get(n));
            Ok(())
        })?;
    }
    Ok(out)
}

/// Hamming distances, `int32[n]`: row by row, or every row of `a` against
/// a single vector `b`.
#[pyfunction]
fn hamming<'py>(py: Python<'py>, a: &Bound<'py, PyAny>, b: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArray1<i32>>> {
    let a_arr = hv_input(a, "a")?;
    let b_arr = hv_input(b, "b")?;
    let (n, nb) = (a_arr.shape()[0], b_arr.shape()[0]);
    if nb != n && nb != 1 {
        return Err(err(Kind::Shape, format!("a has {n} vectors, b has {nb} (and not 1)")));
    }
    let (ab, bb) = (common::slice(&a_arr, "a")?, common::slice(&b_arr, "b")?);
    let out = PyArray1::<i32>::zeros(py, [n], false);
    {
        let mut o = out.try_readwrite().map_err(|e| err(Kind::Value, e.to_string()))?;
        let dst = common::slice_mut(&mut o, "out")?;
        common::kernel(py, || -> PyResult<()> {
            let (av, bv) = (Hvs::new(ab)?, Hvs::new(bb)?);
            let (av, bv) = (av.get(n), bv.get(nb));
            let h = Hamming::detect();
            for (r, d) in dst.iter_mut().enumerate() {
                *d = h.hamming(&av[r], &bv[if nb == 1 { 0 } else { r }]) as i32;
            }
            Ok(())
        })?;
    }
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyHvStore>()?;
    m.add_function(wrap_pyfunction!(empty, m)?)?;
    m.add_function(wrap_pyfunction!(random, m)?)?;
    m.add_function(wrap_pyfunction!(bind, m)?)?;
    m.add_function(wrap_pyfunction!(permute, m)?)?;
    m.add_function(wrap_pyfunction!(bundle, m)?)?;
    m.add_function(wrap_pyfunction!(hamming, m)?)?;
    m.add("DIM", zc_hv16::DIM)?;
    m.add("BYTES", BYTES)?;
    Ok(())
}
