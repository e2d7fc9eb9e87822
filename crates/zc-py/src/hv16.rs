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
use zc_hv16::{BYTES, HV16, Hamming, Hit, HvError, PAD_HIT, ShardError};

use crate::buffers::{Elem, Owner, PyBuffer};
use crate::common::{self, Kind, buffer_err, buffer_kind, chain, err};

fn hv_kind(e: &HvError) -> Kind {
    match e {
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
    }
}

fn hv_err(e: HvError) -> PyErr {
    err(hv_kind(&e), chain(&e))
}

/// A sharded-store error: a shard's own failure keeps its store error's
/// class (missing file: `ZcOSError`, corruption: `FileFormatError`); a
/// manifest that disagrees with its shards is a `FileFormatError`.
fn shard_err(e: ShardError) -> PyErr {
    let kind = match &e {
        ShardError::Hv(h) | ShardError::Shard { source: h, .. } => hv_kind(h),
        ShardError::CountMismatch { .. }
        | ShardError::ChecksumMismatch { .. }
        | ShardError::ManifestParse { .. }
        | ShardError::ManifestInvalid { .. } => Kind::FileFormat,
        _ => Kind::Value,
    };
    err(kind, chain(&e))
}

/// `range_search`'s `(lims, distances, indices)`.
type RangeResult<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i32>>,
    Bound<'py, PyArray1<i64>>,
);

/// `ItemMemory.search`'s `(distances, indices, names)`.
type NamedHits<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>, Vec<Vec<String>>);

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
    /// results are written there. `threads` spreads tiles of 8 queries over
    /// threads (0 = every core; identical results).
    #[pyo3(signature = (queries, k, out=None, *, threads=1))]
    fn search<'py>(
        &self,
        py: Python<'py>,
        queries: &Bound<'py, PyAny>,
        k: usize,
        out: Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
        threads: usize,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let q = hv_input(queries, "queries")?;
        let m = q.shape()[0];
        let qbytes = common::slice(&q, "queries")?;
        let (d_obj, i_obj) = faiss_pair(py, m, k, out)?;
        let store = self.current(py)?;
        let (mut d, mut i) = faiss_outputs(&d_obj, &i_obj, m, k)?;
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
            grow_hits(hits, need)?;
            let hv = Hvs::new(qbytes)?;
            let hits = &mut hits[..need];
            Hamming::detect()
                .top_k_batch_par_into_slice(hv.get(m), store.vectors(), k, threads, hits)
                .map_err(hv_err)?;
            write_faiss(hits, k, k, dd, ii);
            Ok(())
        })?;
        drop((d, i));
        Ok((d_obj, i_obj))
    }

    /// Every vector within `radius` of each query (Hamming distance
    /// `<= radius`, inclusive), in FAISS's `range_search` layout:
    /// `(lims int64[m + 1], distances int32[lims[m]], indices int64[lims[m]])`,
    /// the hits of query `q` at `lims[q]:lims[q + 1]`, in index order.
    /// FAISS's binary `range_search` keeps distances strictly below its
    /// radius: pass `radius - 1` here for the same set.
    fn range_search<'py>(
        &self,
        py: Python<'py>,
        queries: &Bound<'py, PyAny>,
        radius: i64,
    ) -> PyResult<RangeResult<'py>> {
        let radius = u32::try_from(radius)
            .map_err(|_| err(Kind::Value, format!("radius must be in 0..=4294967295, got {radius}")))?;
        let q = hv_input(queries, "queries")?;
        let m = q.shape()[0];
        let qbytes = common::slice(&q, "queries")?;
        let store = self.current(py)?;
        let (lims, ds, is) = common::kernel(py, || -> PyResult<(Vec<i64>, Vec<i32>, Vec<i64>)> {
            let hv = Hvs::new(qbytes)?;
            range_rows(hv.get(m), store.vectors(), radius)
        })?;
        Ok((
            PyArray1::from_vec(py, lims),
            PyArray1::from_vec(py, ds),
            PyArray1::from_vec(py, is),
        ))
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

// ---- shared by the searches: FAISS outputs ------------------------------

/// `(distances, indices)` of shape `(m, k)`: the caller's `out=` pair or
/// new arrays from `numpy.zeros` (a size numpy cannot allocate is its
/// `MemoryError`, not an abort).
fn faiss_pair<'py>(
    py: Python<'py>,
    m: usize,
    k: usize,
    out: Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    if m.checked_mul(k).and_then(|n| n.checked_mul(8)).is_none() {
        return Err(err(
            Kind::Shape,
            format!("({m}, {k}) results overflow the address space"),
        ));
    }
    match out {
        Some(o) => Ok(o),
        None => {
            let zeros = py.import("numpy")?.getattr("zeros")?;
            Ok((zeros.call1(((m, k), "int32"))?, zeros.call1(((m, k), "int64"))?))
        }
    }
}

/// Borrows `(distances int32[m, k], indices int64[m, k])` for writing,
/// checking dtype, shape, writability and that they are not inputs.
fn faiss_outputs<'py>(
    d_obj: &Bound<'py, PyAny>,
    i_obj: &Bound<'py, PyAny>,
    m: usize,
    k: usize,
) -> PyResult<(numpy::PyReadwriteArray2<'py, i32>, numpy::PyReadwriteArray2<'py, i64>)> {
    let d = common::output::<i32, Ix2>(d_obj, "distances", "int32")?;
    let i = common::output::<i64, Ix2>(i_obj, "indices", "int64")?;
    for (name, shape) in [("distances", d.shape()), ("indices", i.shape())] {
        if shape != [m, k] {
            return Err(err(
                Kind::Shape,
                format!("{name} has shape {shape:?}, expected ({m}, {k})"),
            ));
        }
    }
    Ok((d, i))
}

/// Grows the hit scratch to `n` (an allocation failure is an error).
fn grow_hits(hits: &mut Vec<Hit>, n: usize) -> PyResult<()> {
    if hits.len() < n {
        hits.try_reserve_exact(n - hits.len())
            .map_err(|_| err(Kind::Value, format!("cannot allocate {n} search results")))?;
        hits.resize(n, Hit::default());
    }
    Ok(())
}

/// Writes `hits` (rows of `per_row <= k`) as FAISS rows of `k`: distance
/// `int32`, index `int64`, and `(i32::MAX, -1)` for [`PAD_HIT`] and for the
/// slots past `per_row` (FAISS's padding for `k` above the vector count).
fn write_faiss(hits: &[Hit], per_row: usize, k: usize, dd: &mut [i32], ii: &mut [i64]) {
    if k == 0 {
        return;
    }
    for (r, (drow, irow)) in dd.chunks_exact_mut(k).zip(ii.chunks_exact_mut(k)).enumerate() {
        let row = hits.get(r * per_row..(r + 1) * per_row).unwrap_or(&[]);
        for (j, (d, i)) in drow.iter_mut().zip(irow.iter_mut()).enumerate() {
            let h = row.get(j).copied().unwrap_or(PAD_HIT);
            (*d, *i) = if h == PAD_HIT {
                (i32::MAX, -1)
            } else {
                (h.distance as i32, h.index as i64)
            };
        }
    }
    // FAISS layout: two arrays instead of (u32, usize) pairs.
    ledger::record_copy(CopyKind::Convert, dd.len() * 12);
}

/// Range search rows in FAISS layout (see `HvStore.range_search`).
fn range_rows(queries: &[HV16], db: &[HV16], radius: u32) -> PyResult<(Vec<i64>, Vec<i32>, Vec<i64>)> {
    let too_many = |n: usize| err(Kind::Value, format!("cannot allocate {n} range-search results"));
    let mut lims: Vec<i64> = Vec::new();
    lims.try_reserve_exact(queries.len() + 1)
        .map_err(|_| too_many(queries.len()))?;
    lims.push(0);
    let (mut ds, mut is) = (Vec::<i32>::new(), Vec::<i64>::new());
    let mut scratch = vec![Hit::default(); 256];
    let h = Hamming::detect();
    for q in queries {
        let total = if db.is_empty() {
            0
        } else {
            let total = h.range_into_slice(q, db, radius, &mut scratch).map_err(hv_err)?;
            if total > scratch.len() {
                grow_hits(&mut scratch, total)?;
                h.range_into_slice(q, db, radius, &mut scratch).map_err(hv_err)?;
            }
            total
        };
        ds.try_reserve(total).map_err(|_| too_many(total))?;
        is.try_reserve(total).map_err(|_| too_many(total))?;
        for hit in &scratch[..total] {
            ds.push(hit.distance as i32);
            is.push(hit.index as i64);
        }
        lims.push(ds.len() as i64);
    }
    ledger::record_copy(CopyKind::Convert, ds.len() * 12);
    Ok((lims, ds, is))
}

fn path_str(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

// ---- sharded stores -------------------------------------------------------

/// A sharded store's JSON manifest (`zc_hv16::ShardManifest`).
///
/// `ShardManifest(shards, generator="")` builds one from
/// `[{"file": ..., "count": ..., "checksum": ...?}]` (offsets and total are
/// computed); `ShardManifest.load(path)` reads and validates one (version 1,
/// as written by zc.ray.hv16 before 0.2, still loads); `save(path)` writes
/// it atomically (temporary file, fsync, rename). `shards` lists
/// `{"file", "count", "offset", "checksum"}` dicts (`checksum` may be None).
#[pyclass(module = "zc.hv16", name = "ShardManifest", frozen)]
struct PyShardManifest {
    inner: zc_hv16::ShardManifest,
}

fn manifest_entry(d: &Bound<'_, PyAny>) -> PyResult<zc_hv16::ShardEntry> {
    let file: String = d.get_item("file")?.extract()?;
    let count: u64 = d.get_item("count")?.extract()?;
    let checksum: Option<u64> = match d.get_item("checksum") {
        Ok(c) => c.extract()?,
        Err(_) => None,
    };
    Ok(zc_hv16::ShardEntry {
        file,
        count,
        offset: 0,
        checksum,
    })
}

#[pymethods]
impl PyShardManifest {
    #[new]
    #[pyo3(signature = (shards=Vec::new(), generator=String::new()))]
    fn new(shards: Vec<Bound<'_, PyAny>>, generator: String) -> PyResult<Self> {
        let mut m = zc_hv16::ShardManifest::new(generator);
        for s in &shards {
            m.shards.push(manifest_entry(s)?);
        }
        m.renumber();
        m.validate()
            .map_err(|p| err(Kind::Value, format!("invalid shard manifest: {p}")))?;
        Ok(Self { inner: m })
    }

    /// Read and validate a manifest (shard files are not opened).
    #[staticmethod]
    fn load(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Self> {
        let inner = py.detach(|| zc_hv16::ShardManifest::load(&path)).map_err(shard_err)?;
        Ok(Self { inner })
    }

    /// Write atomically (temporary file, fsync, rename, directory fsync).
    fn save(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<()> {
        py.detach(|| self.inner.save(&path)).map_err(shard_err)
    }

    #[getter]
    fn version(&self) -> u32 {
        self.inner.version
    }
    #[getter]
    fn generator(&self) -> String {
        self.inner.generator.clone()
    }
    #[getter]
    fn dim(&self) -> u32 {
        self.inner.dim
    }
    #[getter]
    fn bytes_per_vector(&self) -> u32 {
        self.inner.bytes_per_vector
    }
    #[getter]
    fn total(&self) -> u64 {
        self.inner.total
    }

    /// The shards as `{"file", "count", "offset", "checksum"}` dicts.
    #[getter]
    fn shards<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, pyo3::types::PyDict>>> {
        self.inner
            .shards
            .iter()
            .map(|s| {
                let d = pyo3::types::PyDict::new(py);
                d.set_item("file", &s.file)?;
                d.set_item("count", s.count)?;
                d.set_item("offset", s.offset)?;
                d.set_item("checksum", s.checksum)?;
                Ok(d)
            })
            .collect()
    }

    /// `(shard, index in shard)` of global index `g`, or None.
    fn locate(&self, g: u64) -> Option<(usize, u64)> {
        self.inner.locate(g)
    }

    fn __len__(&self) -> usize {
        self.inner.shards.len()
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyShardManifest>()
            .map(|o| o.get().inner == self.inner)
            .unwrap_or(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "zc.hv16.ShardManifest(generator={:?}, shards={}, total={})",
            self.inner.generator,
            self.inner.shards.len(),
            self.inner.total
        )
    }
}

/// Every shard of a manifest opened read-only (`zc_hv16::ShardSet`):
/// checksums verified, counts and recorded checksums compared with the
/// manifest. A missing or corrupt shard raises a `zc.ZcOSError` /
/// `zc.FileFormatError` whose message starts with `shard <i> (<path>)`.
#[pyclass(module = "zc.hv16", name = "ShardSet", frozen)]
struct PyShardSet {
    set: zc_hv16::ShardSet,
    hits: Mutex<Vec<Hit>>,
}

#[pymethods]
impl PyShardSet {
    #[new]
    #[pyo3(signature = (manifest, *, verify=true))]
    fn open(py: Python<'_>, manifest: std::path::PathBuf, verify: bool) -> PyResult<Self> {
        let set = py
            .detach(|| zc_hv16::ShardSet::open_with(&manifest, zc_hv16::OpenOptions::new().verify(verify)))
            .map_err(shard_err)?;
        Ok(Self {
            set,
            hits: Mutex::new(Vec::new()),
        })
    }

    fn __len__(&self) -> usize {
        self.set.len()
    }

    /// Number of shards (empty ones included).
    #[getter]
    fn num_shards(&self) -> usize {
        self.set.shards().len()
    }

    #[getter]
    fn manifest(&self) -> PyShardManifest {
        PyShardManifest {
            inner: self.set.manifest().clone(),
        }
    }

    /// The shard files, in global order.
    #[getter]
    fn paths(&self) -> Vec<String> {
        self.set.shards().iter().map(|s| path_str(s.path())).collect()
    }

    /// Exact top-`k` over every shard: `(distances int32[m, k], indices
    /// int64[m, k])` with global indices, nearest first, ties by global
    /// index — what one `HvStore` holding every vector returns. `k` above
    /// `len(self)` pads each row with distance `2**31 - 1` and index `-1`
    /// (FAISS). `threads` shards are searched at once (0 = every core).
    /// With `out=(D, I)` the results are written there.
    #[pyo3(signature = (queries, k, out=None, *, threads=1))]
    fn search<'py>(
        &self,
        py: Python<'py>,
        queries: &Bound<'py, PyAny>,
        k: usize,
        out: Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
        threads: usize,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        if k == 0 {
            return Err(err(Kind::Value, "k must be at least 1"));
        }
        let q = hv_input(queries, "queries")?;
        let m = q.shape()[0];
        let qbytes = common::slice(&q, "queries")?;
        let (d_obj, i_obj) = faiss_pair(py, m, k, out)?;
        let (mut d, mut i) = faiss_outputs(&d_obj, &i_obj, m, k)?;
        let (dd, ii) = (
            common::slice_mut(&mut d, "distances")?,
            common::slice_mut(&mut i, "indices")?,
        );
        let kk = k.min(self.set.len());
        let need = m.checked_mul(kk).ok_or_else(|| err(Kind::Shape, "m * k overflows"))?;
        let mut guard = self
            .hits
            .lock_py_attached(py)
            .map_err(|_| err(Kind::Runtime, "scratch poisoned"))?;
        let hits: &mut Vec<Hit> = &mut guard;
        let set = &self.set;
        common::kernel(py, || -> PyResult<()> {
            grow_hits(hits, need)?;
            let hits = &mut hits[..need];
            if kk > 0 && m > 0 {
                let hv = Hvs::new(qbytes)?;
                set.search_into_slice(hv.get(m), kk, threads, hits).map_err(shard_err)?;
            }
            write_faiss(hits, kk, k, dd, ii);
            Ok(())
        })?;
        drop((d, i));
        Ok((d_obj, i_obj))
    }

    fn __repr__(&self) -> String {
        format!(
            "zc.hv16.ShardSet({:?}, shards={}, n={})",
            self.set.manifest_path(),
            self.set.shards().len(),
            self.set.len()
        )
    }
}

/// Merge per-shard `(int32[m, k_s], int64[m, k_s])` results (global
/// indices) into the top `k` per query by (distance, global index):
/// deterministic, independent of the order of the parts, and equal to one
/// store's exact top-k when each part is its shard's top-`min(k, n_s)`.
/// Rows with fewer than `k` hits are padded with `(2**31 - 1, -1)`
/// (FAISS); input entries with index `-1` are such padding and are skipped.
#[pyfunction]
#[pyo3(signature = (distances, indices, k, out=None))]
fn merge_top_k<'py>(
    py: Python<'py>,
    distances: Vec<Bound<'py, PyAny>>,
    indices: Vec<Bound<'py, PyAny>>,
    k: usize,
    out: Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    if distances.len() != indices.len() {
        return Err(err(
            Kind::Shape,
            format!("{} distance arrays but {} index arrays", distances.len(), indices.len()),
        ));
    }
    if k == 0 {
        return Err(err(Kind::Value, "k must be at least 1"));
    }
    let mut ds = Vec::with_capacity(distances.len());
    let mut is = Vec::with_capacity(distances.len());
    let mut m: Option<usize> = None;
    for (p, (d, i)) in distances.iter().zip(&indices).enumerate() {
        let d = common::input::<i32, Ix2>(d, &format!("distances[{p}]"), "int32")?;
        let i = common::input::<i64, Ix2>(i, &format!("indices[{p}]"), "int64")?;
        if d.shape() != i.shape() {
            return Err(err(
                Kind::Shape,
                format!(
                    "part {p}: distances {:?} and indices {:?} differ in shape",
                    d.shape(),
                    i.shape()
                ),
            ));
        }
        if *m.get_or_insert(d.shape()[0]) != d.shape()[0] {
            return Err(err(
                Kind::Shape,
                format!("part {p} has {} rows, part 0 has {m:?}", d.shape()[0]),
            ));
        }
        ds.push(d);
        is.push(i);
    }
    let m = m.unwrap_or(0);
    let mut slices = Vec::with_capacity(ds.len());
    for (p, (d, i)) in ds.iter().zip(&is).enumerate() {
        let ks = d.shape()[1];
        slices.push((
            common::slice(d, &format!("distances[{p}]"))?,
            common::slice(i, &format!("indices[{p}]"))?,
            ks,
        ));
    }
    let (d_obj, i_obj) = faiss_pair(py, m, k, out)?;
    let (mut od, mut oi) = faiss_outputs(&d_obj, &i_obj, m, k)?;
    let (dd, ii) = (
        common::slice_mut(&mut od, "distances")?,
        common::slice_mut(&mut oi, "indices")?,
    );
    common::kernel(py, || -> PyResult<()> {
        let total: usize = slices.iter().map(|(d, _, _)| d.len()).sum();
        let mut all = Vec::new();
        grow_hits(&mut all, total)?;
        let mut at = 0;
        for (p, (d, i, _)) in slices.iter().enumerate() {
            for (j, (&dist, &idx)) in d.iter().zip(i.iter()).enumerate() {
                all[at + j] = match (u32::try_from(dist), usize::try_from(idx)) {
                    _ if idx == -1 => PAD_HIT,
                    (Ok(dist), Ok(idx)) => Hit::new(dist, idx),
                    _ => {
                        return Err(err(
                            Kind::Value,
                            format!(
                                "part {p}, entry {j}: distance {dist} / index {idx} (need >= 0, or index -1 for padding)"
                            ),
                        ));
                    }
                };
            }
            at += d.len();
        }
        let mut parts = Vec::with_capacity(slices.len());
        let mut at = 0;
        for (d, _, ks) in &slices {
            parts.push(zc_hv16::Partial::new(&all[at..at + d.len()], *ks, 0));
            at += d.len();
        }
        let mut merged = Vec::new();
        grow_hits(&mut merged, m * k)?;
        zc_hv16::merge_top_k_into_slice(&parts, m, k, &mut merged).map_err(hv_err)?;
        write_faiss(&merged, k, k, dd, ii);
        Ok(())
    })?;
    drop((od, oi));
    Ok((d_obj, i_obj))
}

/// Appends to a sharded store, rolling over to a new shard file at
/// `max_vectors_per_shard` (`zc_hv16::ShardWriter`); the manifest is
/// rewritten atomically after each sealed shard and each `append`.
/// `ShardWriter.create(manifest, max, generator)` starts a new set;
/// `ShardWriter.open_rw(manifest, max, generator)` continues one (the
/// generator must match; vectors a crashed writer committed to the last
/// shard after its last manifest write are kept). Use as a context manager
/// or call `finish()`.
#[pyclass(module = "zc.hv16", name = "ShardWriter", frozen)]
struct PyShardWriter {
    w: Mutex<Option<zc_hv16::ShardWriter>>,
    path: std::path::PathBuf,
}

impl PyShardWriter {
    fn with<R>(&self, py: Python<'_>, f: impl FnOnce(&mut zc_hv16::ShardWriter) -> PyResult<R>) -> PyResult<R> {
        let mut g = self
            .w
            .lock_py_attached(py)
            .map_err(|_| err(Kind::Runtime, "writer lock poisoned"))?;
        match g.as_mut() {
            Some(w) => f(w),
            None => Err(err(
                Kind::Value,
                format!("the shard writer for {:?} is finished", self.path),
            )),
        }
    }

    fn wrap(w: zc_hv16::ShardWriter, sync: bool) -> Self {
        let mut w = w;
        if !sync {
            w.set_durability(zc_hv16::Durability::NoSync);
        }
        Self {
            path: w.manifest_path().to_path_buf(),
            w: Mutex::new(Some(w)),
        }
    }
}

#[pymethods]
impl PyShardWriter {
    /// Start a new sharded store at `manifest` (its directory is created).
    /// `sync=False` skips the per-append fsync (shards are still synced when sealed).
    #[staticmethod]
    #[pyo3(signature = (manifest, max_vectors_per_shard, generator=String::new(), *, sync=true))]
    fn create(
        py: Python<'_>,
        manifest: std::path::PathBuf,
        max_vectors_per_shard: usize,
        generator: String,
        sync: bool,
    ) -> PyResult<Self> {
        let w = py
            .detach(|| zc_hv16::ShardWriter::create(&manifest, max_vectors_per_shard, generator))
            .map_err(shard_err)?;
        Ok(Self::wrap(w, sync))
    }

    /// Continue the sharded store at `manifest` (every shard is verified).
    #[staticmethod]
    #[pyo3(signature = (manifest, max_vectors_per_shard, generator=String::new(), *, sync=true))]
    fn open_rw(
        py: Python<'_>,
        manifest: std::path::PathBuf,
        max_vectors_per_shard: usize,
        generator: String,
        sync: bool,
    ) -> PyResult<Self> {
        let w = py
            .detach(|| zc_hv16::ShardWriter::open_rw(&manifest, max_vectors_per_shard, &generator))
            .map_err(shard_err)?;
        Ok(Self::wrap(w, sync))
    }

    /// Append `uint8[n, 256]` vectors; returns the global index of the first.
    fn append(&self, py: Python<'_>, vectors: &Bound<'_, PyAny>) -> PyResult<usize> {
        let a = hv_input(vectors, "vectors")?;
        let n = a.shape()[0];
        let bytes = common::slice(&a, "vectors")?;
        self.with(py, |w| {
            common::kernel(py, || -> PyResult<usize> {
                let hvs = Hvs::new(bytes)?;
                w.append(hvs.get(n)).map_err(shard_err)
            })
        })
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        self.with(py, |w| Ok(w.len()))
    }

    /// The manifest as last written.
    #[getter]
    fn manifest(&self, py: Python<'_>) -> PyResult<PyShardManifest> {
        self.with(py, |w| {
            Ok(PyShardManifest {
                inner: w.manifest().clone(),
            })
        })
    }

    #[getter]
    fn manifest_path(&self) -> String {
        path_str(&self.path)
    }

    /// Sync the open shard, rewrite the manifest, release the writer locks;
    /// returns the manifest. A second call returns it again.
    fn finish(&self, py: Python<'_>) -> PyResult<PyShardManifest> {
        let mut g = self
            .w
            .lock_py_attached(py)
            .map_err(|_| err(Kind::Runtime, "writer lock poisoned"))?;
        match g.take() {
            Some(w) => Ok(PyShardManifest {
                inner: py.detach(|| w.finish()).map_err(shard_err)?,
            }),
            None => PyShardManifest::load(py, self.path.clone()),
        }
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<()> {
        self.finish(py).map(|_| ())
    }
}

/// Split the store at `source` (a path or an open `HvStore`) into a new
/// sharded store at `manifest`, shards of at most `max_vectors_per_shard`;
/// global index `g` is index `g` of the source. Returns the manifest.
#[pyfunction]
#[pyo3(signature = (source, manifest, max_vectors_per_shard, generator=String::new()))]
fn split_store(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    manifest: std::path::PathBuf,
    max_vectors_per_shard: usize,
    generator: String,
) -> PyResult<PyShardManifest> {
    let store = match source.cast::<PyHvStore>() {
        Ok(s) => s.get().current(py)?,
        Err(_) => {
            let path: std::path::PathBuf = source.extract()?;
            Arc::new(py.detach(|| zc_hv16::HvStore::open(&path)).map_err(hv_err)?)
        }
    };
    let inner = py
        .detach(|| zc_hv16::split_store(&store, &manifest, max_vectors_per_shard, generator))
        .map_err(shard_err)?;
    Ok(PyShardManifest { inner })
}

// ---- item memory ----------------------------------------------------------

/// A store of named vectors (`zc_hv16::ItemMemory`: the store plus a
/// `.names` sidecar). `ItemMemory(path)` opens read-only (checksums
/// verified); `create` / `open_rw` open for inserting under the writer
/// lock. `search` returns names with the FAISS arrays.
#[pyclass(module = "zc.hv16", name = "ItemMemory", frozen)]
struct PyItemMemory {
    mem: RwLock<zc_hv16::ItemMemory>,
    hits: Mutex<Vec<Hit>>,
}

impl PyItemMemory {
    fn wrap(m: zc_hv16::ItemMemory) -> Self {
        Self {
            mem: RwLock::new(m),
            hits: Mutex::new(Vec::new()),
        }
    }

    fn read<'a>(&'a self, py: Python<'_>) -> PyResult<std::sync::RwLockReadGuard<'a, zc_hv16::ItemMemory>> {
        self.mem
            .read_py_attached(py)
            .map_err(|_| err(Kind::Runtime, "item memory lock poisoned"))
    }

    fn write<'a>(&'a self, py: Python<'_>) -> PyResult<std::sync::RwLockWriteGuard<'a, zc_hv16::ItemMemory>> {
        self.mem
            .write_py_attached(py)
            .map_err(|_| err(Kind::Runtime, "item memory lock poisoned"))
    }
}

#[pymethods]
impl PyItemMemory {
    #[new]
    #[pyo3(signature = (path, *, verify=true))]
    fn open(py: Python<'_>, path: std::path::PathBuf, verify: bool) -> PyResult<Self> {
        let m = py
            .detach(|| zc_hv16::ItemMemory::open_with(&path, zc_hv16::OpenOptions::new().verify(verify)))
            .map_err(hv_err)?;
        Ok(Self::wrap(m))
    }

    /// Create (or truncate) an item memory at `path` (and `path.names`).
    #[staticmethod]
    fn create(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Self> {
        Ok(Self::wrap(
            py.detach(|| zc_hv16::ItemMemory::create(&path)).map_err(hv_err)?,
        ))
    }

    /// Open an existing item memory for reading and inserting (writer lock).
    #[staticmethod]
    fn open_rw(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Self> {
        Ok(Self::wrap(
            py.detach(|| zc_hv16::ItemMemory::open_rw(&path)).map_err(hv_err)?,
        ))
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.read(py)?.len())
    }

    fn __contains__(&self, py: Python<'_>, name: &str) -> PyResult<bool> {
        Ok(self.read(py)?.index_of(name).is_some())
    }

    /// Whether the item memory was opened for inserting.
    #[getter]
    fn writable(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.read(py)?.store().is_writable())
    }

    /// Insert `name` with one `uint8[256]` vector; returns its index.
    fn insert(&self, py: Python<'_>, name: &str, vector: &Bound<'_, PyAny>) -> PyResult<usize> {
        let a = hv_input(vector, "vector")?;
        if a.shape()[0] != 1 {
            return Err(err(
                Kind::Shape,
                format!("vector must be one uint8[256], got shape {:?}", a.shape()),
            ));
        }
        let bytes = common::slice(&a, "vector")?;
        let mut mem = self.write(py)?;
        let mem = &mut *mem;
        common::kernel(py, || -> PyResult<usize> {
            let hvs = Hvs::new(bytes)?;
            mem.insert(name, &hvs.get(1)[0]).map_err(hv_err)
        })
    }

    /// Insert `names[j]` with `vectors[j]` (`uint8[n, 256]`) as one batch:
    /// all or nothing (a duplicate name inserts none). Returns the index of
    /// the first.
    fn extend(&self, py: Python<'_>, names: Vec<String>, vectors: &Bound<'_, PyAny>) -> PyResult<usize> {
        let a = hv_input(vectors, "vectors")?;
        let n = a.shape()[0];
        if names.len() != n {
            return Err(err(Kind::Shape, format!("{} names for {n} vectors", names.len())));
        }
        let bytes = common::slice(&a, "vectors")?;
        let mut mem = self.write(py)?;
        let mem = &mut *mem;
        common::kernel(py, || -> PyResult<usize> {
            let hvs = Hvs::new(bytes)?;
            let r = mem.extend(names.iter().zip(hvs.get(n))).map_err(hv_err)?;
            Ok(r.start)
        })
    }

    /// A copy (`uint8[256]`, 64-byte aligned) of the vector named `name`,
    /// or None. A copy because inserting may remap the store.
    fn get<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
        let mem = self.read(py)?;
        let Some(v) = mem.get(name) else { return Ok(None) };
        let out = crate::buffers::aligned_ndarray(py, Elem::U8, vec![BYTES])?;
        {
            let mut o = common::output::<u8, Ix1>(&out, "out", "uint8")?;
            let dst = common::slice_mut(&mut o, "out")?;
            ledger::copy_bytes(dst, HV16::as_bytes(std::slice::from_ref(v)), CopyKind::Other).map_err(buffer_err)?;
        }
        Ok(Some(out))
    }

    /// The index of `name`, or None.
    fn index_of(&self, py: Python<'_>, name: &str) -> PyResult<Option<usize>> {
        Ok(self.read(py)?.index_of(name))
    }

    /// The name at `index`, or None.
    fn name(&self, py: Python<'_>, index: usize) -> PyResult<Option<String>> {
        Ok(self.read(py)?.name(index).map(str::to_owned))
    }

    /// Exact top-`k` of `queries` (`uint8[m, 256]`): `(distances int32[m, k],
    /// indices int64[m, k], names list[list[str]])`, nearest first, ties by
    /// index. `k` must be in `1..=len(self)`.
    fn search<'py>(&self, py: Python<'py>, queries: &Bound<'py, PyAny>, k: usize) -> PyResult<NamedHits<'py>> {
        let q = hv_input(queries, "queries")?;
        let m = q.shape()[0];
        let qbytes = common::slice(&q, "queries")?;
        let (d_obj, i_obj) = faiss_pair(py, m, k, None)?;
        let (mut d, mut i) = faiss_outputs(&d_obj, &i_obj, m, k)?;
        let (dd, ii) = (
            common::slice_mut(&mut d, "distances")?,
            common::slice_mut(&mut i, "indices")?,
        );
        let need = m.checked_mul(k).ok_or_else(|| err(Kind::Shape, "m * k overflows"))?;
        let mem = self.read(py)?;
        let mem_ref = &*mem;
        let mut guard = self
            .hits
            .lock_py_attached(py)
            .map_err(|_| err(Kind::Runtime, "scratch poisoned"))?;
        let hits: &mut Vec<Hit> = &mut guard;
        let names = common::kernel(py, || -> PyResult<Vec<Vec<String>>> {
            grow_hits(hits, need)?;
            let hits = &mut hits[..need];
            let hv = Hvs::new(qbytes)?;
            mem_ref
                .hamming()
                .top_k_batch_into_slice(hv.get(m), mem_ref.vectors(), k, hits)
                .map_err(hv_err)?;
            write_faiss(hits, k, k, dd, ii);
            Ok(hits
                .chunks(k.max(1))
                .map(|row| {
                    row.iter()
                        .map(|h| mem_ref.name(h.index).unwrap_or("").to_owned())
                        .collect()
                })
                .collect())
        })?;
        drop((d, i));
        Ok((d_obj, i_obj, names))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let m = self.read(py)?;
        Ok(format!(
            "zc.hv16.ItemMemory({:?}, n={}, writable={})",
            m.store().path(),
            m.len(),
            m.store().is_writable()
        ))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyHvStore>()?;
    m.add_class::<PyItemMemory>()?;
    m.add_class::<PyShardManifest>()?;
    m.add_class::<PyShardSet>()?;
    m.add_class::<PyShardWriter>()?;
    m.add_function(wrap_pyfunction!(merge_top_k, m)?)?;
    m.add_function(wrap_pyfunction!(split_store, m)?)?;
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
