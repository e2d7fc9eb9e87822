//! `zc.buffers`: the copy ledger and the allocation counter as context
//! managers, `Pool`, and `Buffer` — zc-owned memory handed to numpy
//! (`__array_interface__`) and DLPack consumers (`__dlpack__`) without copying.

use std::ffi::{CStr, c_void};
use std::ptr::NonNull;
use std::sync::Arc;

use pyo3::exceptions::PyBufferError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use zc_buffers::interop::dlpack::{DLDevice, DLManagedTensorVersioned, DLTensor, DataType, DlpackTensor};
use zc_buffers::ledger::{CopyKind, Ledger};
use zc_buffers::testing::{AllocStats, thread_stats};
use zc_buffers::{AlignedBuf, Buffer as ZcBuffer, Residency};

use crate::common::{self, Kind, buffer_err, err};

// ---------------------------------------------------------------- ledger

/// `with zc.buffers.ledger() as r:` — every deliberate copy and allocation
/// zc makes on this thread inside the block (`zc_buffers::ledger`). The
/// figures are live: read them inside or after the block.
#[pyclass(module = "zc.buffers", name = "LedgerReport")]
pub struct LedgerScope {
    ledger: Ledger,
}

#[pymethods]
impl LedgerScope {
    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        common::push_ledger(slf.ledger.clone());
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, _exc: &Bound<'_, PyTuple>) -> bool {
        common::pop_ledger();
        false
    }

    /// Deliberate copies recorded.
    #[getter]
    fn copies(&self) -> u64 {
        self.ledger.report().copies
    }

    /// Bytes those copies moved.
    #[getter]
    fn bytes_copied(&self) -> u64 {
        self.ledger.report().bytes_copied
    }

    /// Deliberate allocations recorded (output buffers zc made for you).
    #[getter]
    fn allocations(&self) -> u64 {
        self.ledger.report().allocations
    }

    /// Bytes of those allocations.
    #[getter]
    fn bytes_allocated(&self) -> u64 {
        self.ledger.report().bytes_allocated
    }

    /// Copies per kind (`transpose`, `realign`, `convert`, …), non-zero kinds only.
    #[getter]
    fn copies_by_kind<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let r = self.ledger.report();
        let d = PyDict::new(py);
        for k in CopyKind::ALL {
            if r.copies_of(k) > 0 {
                d.set_item(k.name(), (r.copies_of(k), r.bytes_of(k)))?;
            }
        }
        Ok(d)
    }

    fn __repr__(&self) -> String {
        let r = self.ledger.report();
        format!(
            "LedgerReport(copies={}, bytes_copied={}, allocations={}, bytes_allocated={})",
            r.copies, r.bytes_copied, r.allocations, r.bytes_allocated
        )
    }
}

/// A new ledger block (use with `with`).
#[pyfunction]
fn ledger() -> LedgerScope {
    LedgerScope { ledger: Ledger::new() }
}

// ---------------------------------------------------------- allocations

/// `with zc.buffers.count_allocations() as a:` — Rust heap calls made by the
/// extension on this thread inside the block (the counting allocator is the
/// extension's global allocator). `allocations` counts everything the
/// binding did (argument borrowing included); `kernel_allocations` only
/// what the zc crates did inside their calls. numpy's and Python's own
/// allocations are not Rust's and are not counted.
#[pyclass(module = "zc.buffers", name = "AllocationReport")]
pub struct AllocScope {
    start: Option<(AllocStats, u64)>,
    end: Option<(AllocStats, u64)>,
}

impl AllocScope {
    fn now() -> (AllocStats, u64) {
        (thread_stats(), common::kernel_heap_calls())
    }

    fn figures(&self) -> (AllocStats, u64) {
        let Some((s, sk)) = self.start else {
            return (AllocStats::default(), 0);
        };
        let (e, ek) = self.end.unwrap_or_else(Self::now);
        (
            AllocStats {
                allocations: e.allocations - s.allocations,
                reallocations: e.reallocations - s.reallocations,
                deallocations: e.deallocations - s.deallocations,
                bytes_allocated: e.bytes_allocated - s.bytes_allocated,
            },
            ek - sk,
        )
    }
}

#[pymethods]
impl AllocScope {
    fn __enter__(mut slf: PyRefMut<'_, Self>) -> PyRefMut<'_, Self> {
        slf.end = None;
        slf.start = Some(Self::now());
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&mut self, _exc: &Bound<'_, PyTuple>) -> bool {
        self.end = Some(Self::now());
        false
    }

    /// Rust allocations (alloc + realloc) on this thread in the block.
    #[getter]
    fn allocations(&self) -> u64 {
        self.figures().0.heap_calls()
    }

    /// Rust deallocations on this thread in the block.
    #[getter]
    fn deallocations(&self) -> u64 {
        self.figures().0.deallocations
    }

    /// Bytes those allocations asked for.
    #[getter]
    fn bytes_allocated(&self) -> u64 {
        self.figures().0.bytes_allocated
    }

    /// Allocations made inside zc's kernels (the crate calls) only.
    #[getter]
    fn kernel_allocations(&self) -> u64 {
        self.figures().1
    }

    fn __repr__(&self) -> String {
        let (a, k) = self.figures();
        format!(
            "AllocationReport(allocations={}, bytes_allocated={}, kernel_allocations={})",
            a.heap_calls(),
            a.bytes_allocated,
            k
        )
    }
}

/// A new allocation-counting block (use with `with`).
#[pyfunction]
fn count_allocations() -> AllocScope {
    AllocScope { start: None, end: None }
}

// ---------------------------------------------------------------- Buffer

/// Memory zc owns, shared with numpy and DLPack consumers: each of them
/// holds an `Arc` of the owner, so the memory lives until the last one is
/// gone.
pub trait Owner: Send + Sync + 'static {
    /// Start of the bytes.
    fn ptr(&self) -> NonNull<u8>;
    /// Length in bytes.
    fn len(&self) -> usize;
    /// Guaranteed alignment of `ptr`.
    fn align(&self) -> usize;
    /// Where the bytes live.
    fn residency(&self) -> Residency {
        Residency::Heap
    }
}

struct PoolOwner(zc_buffers::Pooled);

impl Owner for PoolOwner {
    fn ptr(&self) -> NonNull<u8> {
        self.0.host_ptr().unwrap_or(NonNull::dangling())
    }
    fn len(&self) -> usize {
        ZcBuffer::len(&self.0)
    }
    fn align(&self) -> usize {
        ZcBuffer::align(&self.0)
    }
}

struct AlignedOwner(AlignedBuf);

impl Owner for AlignedOwner {
    fn ptr(&self) -> NonNull<u8> {
        self.0.host_ptr().unwrap_or(NonNull::dangling())
    }
    fn len(&self) -> usize {
        ZcBuffer::len(&self.0)
    }
    fn align(&self) -> usize {
        ZcBuffer::align(&self.0)
    }
}

/// An [`Owner`] as a zc `Buffer`, so `DlpackTensor` can keep it alive.
struct Shared(Arc<dyn Owner>);

// SAFETY: `host_ptr` is the owner's pointer, valid for `len` bytes for as
// long as the `Arc` (and so `self`) lives: every `Owner` keeps its memory
// for its whole lifetime and never moves or frees it while shared.
unsafe impl ZcBuffer for Shared {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn align(&self) -> usize {
        self.0.align()
    }
    fn residency(&self) -> Residency {
        self.0.residency()
    }
    fn host_ptr(&self) -> Option<NonNull<u8>> {
        Some(self.0.ptr())
    }
}

/// Element types a `Buffer` can present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    U8,
    I32,
    I64,
    F32,
    F64,
}

impl Elem {
    fn typestr(self) -> &'static str {
        match self {
            Elem::U8 => "|u1",
            Elem::I32 => "<i4",
            Elem::I64 => "<i8",
            Elem::F32 => "<f4",
            Elem::F64 => "<f8",
        }
    }
    fn size(self) -> usize {
        match self {
            Elem::U8 => 1,
            Elem::I32 | Elem::F32 => 4,
            Elem::I64 | Elem::F64 => 8,
        }
    }
    fn dlpack(self) -> DataType {
        match self {
            Elem::U8 => DataType::U8,
            Elem::I32 => DataType::I32,
            Elem::I64 => DataType::I64,
            Elem::F32 => DataType::F32,
            Elem::F64 => DataType::F64,
        }
    }
    fn parse(name: &str) -> PyResult<Elem> {
        Ok(match name {
            "uint8" | "u1" | "|u1" => Elem::U8,
            "int32" | "i4" | "<i4" => Elem::I32,
            "int64" | "i8" | "<i8" => Elem::I64,
            "float32" | "f4" | "<f4" => Elem::F32,
            "float64" | "f8" | "<f8" => Elem::F64,
            other => {
                return Err(err(
                    Kind::DType,
                    format!("unsupported dtype {other:?}: uint8, int32, int64, float32 or float64"),
                ));
            }
        })
    }
}

/// zc-owned memory (a pool buffer, aligned heap memory, a read-only store
/// mapping) as an n-dimensional array. `numpy.asarray(buf)` and
/// `numpy.from_dlpack(buf)` share its memory; the array keeps the buffer
/// alive, and the memory goes back to its owner (a pool buffer to its pool)
/// when the last reference is gone.
#[pyclass(module = "zc.buffers", name = "Buffer", frozen)]
pub struct PyBuffer {
    owner: Arc<dyn Owner>,
    elem: Elem,
    shape: Vec<usize>,
    readonly: bool,
}

impl PyBuffer {
    /// A buffer presenting the start of `owner` as a C-contiguous `elem` array of `shape`.
    pub fn new(owner: Arc<dyn Owner>, elem: Elem, shape: Vec<usize>, readonly: bool) -> PyResult<Self> {
        let need = shape
            .iter()
            .try_fold(elem.size(), |a, &d| a.checked_mul(d))
            .ok_or_else(|| err(Kind::Shape, format!("shape {shape:?} overflows")))?;
        if need > owner.len() {
            return Err(err(
                Kind::Shape,
                format!(
                    "shape {shape:?} of {elem:?} needs {need} bytes, the buffer holds {}",
                    owner.len()
                ),
            ));
        }
        if !(owner.ptr().as_ptr() as usize).is_multiple_of(elem.size()) {
            return Err(err(Kind::CopyRequired, format!("buffer is not aligned for {elem:?}")));
        }
        Ok(Self {
            owner,
            elem,
            shape,
            readonly,
        })
    }

    /// A numpy array over a new buffer (ndarray whose base is the buffer).
    pub fn into_ndarray(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        let obj = Bound::new(py, self)?;
        py.import("numpy")?.getattr("asarray")?.call1((obj,))
    }
}

/// Zeroed 64-byte-aligned memory as a numpy array of `shape` (the base keeps it alive).
pub fn aligned_ndarray<'py>(py: Python<'py>, elem: Elem, shape: Vec<usize>) -> PyResult<Bound<'py, PyAny>> {
    let bytes = shape
        .iter()
        .try_fold(elem.size(), |a, &d| a.checked_mul(d))
        .ok_or_else(|| err(Kind::Shape, format!("shape {shape:?} overflows")))?;
    let buf = AlignedBuf::zeroed(bytes.max(1)).map_err(buffer_err)?;
    PyBuffer::new(Arc::new(AlignedOwner(buf)), elem, shape, false)?.into_ndarray(py)
}

#[pymethods]
impl PyBuffer {
    /// Bytes the array covers.
    #[getter]
    fn nbytes(&self) -> usize {
        self.shape.iter().product::<usize>() * self.elem.size()
    }

    /// Shape of the array.
    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, &self.shape)
    }

    /// Whether consumers may not write it (mapped files).
    #[getter]
    fn readonly(&self) -> bool {
        self.readonly
    }

    /// The address of the first byte (for tests and diagnostics).
    #[getter]
    fn address(&self) -> usize {
        self.owner.ptr().as_ptr() as usize
    }

    fn __len__(&self) -> usize {
        self.shape.first().copied().unwrap_or(1)
    }

    /// The same memory as another C-contiguous dtype and shape (no copy).
    #[pyo3(signature = (dtype, shape))]
    fn view(&self, dtype: &str, shape: Vec<usize>) -> PyResult<PyBuffer> {
        PyBuffer::new(self.owner.clone(), Elem::parse(dtype)?, shape, self.readonly)
    }

    /// numpy's array interface (version 3): numpy reads the pointer and
    /// keeps this object as the array's base.
    #[getter]
    fn __array_interface__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("version", 3)?;
        d.set_item("shape", PyTuple::new(py, &self.shape)?)?;
        d.set_item("typestr", self.elem.typestr())?;
        d.set_item("data", (self.address(), self.readonly))?;
        d.set_item("strides", py.None())?;
        Ok(d)
    }

    /// `(device_type, device_id)`: `(1, 0)`, the CPU.
    fn __dlpack_device__(&self) -> (i32, i32) {
        let d = DLDevice::from(zc_buffers::Device::CPU);
        (d.device_type, d.device_id)
    }

    /// A DLPack capsule over this memory (no copy). With `max_version >=
    /// (1, 0)` a versioned `"dltensor_versioned"` capsule (read-only memory
    /// flagged so); otherwise a legacy `"dltensor"` capsule, which is
    /// refused for read-only memory (the legacy format cannot say so).
    #[pyo3(signature = (*, stream=None, max_version=None, dl_device=None, copy=None))]
    fn __dlpack__<'py>(
        &self,
        py: Python<'py>,
        stream: Option<&Bound<'py, PyAny>>,
        max_version: Option<(u32, u32)>,
        dl_device: Option<(i32, i32)>,
        copy: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if let Some(s) = stream
            && !s.is_none()
        {
            return Err(err(Kind::Value, "stream must be None for CPU memory"));
        }
        if let Some(dev) = dl_device
            && dev != self.__dlpack_device__()
        {
            return Err(PyBufferError::new_err(format!(
                "zc buffers live on the CPU {:?}; export to {dev:?} would need a copy",
                self.__dlpack_device__()
            )));
        }
        if copy == Some(true) {
            return Err(PyBufferError::new_err(
                "zc exports without copying; copy=True is not supported",
            ));
        }
        let mut t = DlpackTensor::new(Shared(self.owner.clone()), self.elem.dlpack(), &self.shape, None, 0)
            .map_err(buffer_err)?;
        if self.readonly {
            t = t.read_only();
        }
        let versioned = max_version.is_some_and(|(major, _)| major >= 1);
        if versioned {
            return capsule(
                py,
                t.into_raw().cast(),
                c"dltensor_versioned",
                versioned_capsule_destructor,
            );
        }
        if self.readonly {
            return Err(PyBufferError::new_err(
                "read-only memory cannot be exported as a legacy DLPack capsule (it has no read-only flag); \
                 ask for max_version=(1, 0)",
            ));
        }
        let legacy = into_legacy(t);
        capsule(py, legacy.cast(), c"dltensor", legacy_capsule_destructor)
    }

    fn __repr__(&self) -> String {
        format!(
            "zc.buffers.Buffer(shape={:?}, dtype={:?}, readonly={}, nbytes={})",
            self.shape,
            self.elem,
            self.readonly,
            self.nbytes()
        )
    }
}

/// DLPack < 1.0 `DLManagedTensor`.
#[repr(C)]
struct DLManagedTensor {
    dl_tensor: DLTensor,
    manager_ctx: *mut c_void,
    deleter: Option<unsafe extern "C" fn(*mut DLManagedTensor)>,
}

/// A legacy managed tensor whose context is the versioned one (shape and
/// strides point into it, so it must outlive the legacy struct).
fn into_legacy(t: DlpackTensor) -> *mut DLManagedTensor {
    let src = t.tensor();
    let dl_tensor = DLTensor {
        data: src.data,
        device: src.device,
        ndim: src.ndim,
        dtype: src.dtype,
        shape: src.shape,
        strides: src.strides,
        byte_offset: src.byte_offset,
    };
    Box::into_raw(Box::new(DLManagedTensor {
        dl_tensor,
        manager_ctx: t.into_raw().cast(),
        deleter: Some(legacy_deleter),
    }))
}

unsafe extern "C" fn legacy_deleter(p: *mut DLManagedTensor) {
    if p.is_null() {
        return;
    }
    // SAFETY: `p` came from `Box::into_raw` in `into_legacy`, and DLPack
    // consumers call the deleter exactly once.
    let legacy = unsafe { Box::from_raw(p) };
    if let Some(inner) = NonNull::new(legacy.manager_ctx.cast::<DLManagedTensorVersioned>()) {
        // SAFETY: `manager_ctx` is the versioned tensor `into_legacy` took
        // from `DlpackTensor::into_raw`; ownership comes back here once.
        drop(unsafe { DlpackTensor::from_raw(inner) });
    }
}

fn capsule<'py>(
    py: Python<'py>,
    ptr: *mut c_void,
    name: &'static CStr,
    destructor: unsafe extern "C" fn(*mut pyo3::ffi::PyObject),
) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: `ptr` is a live managed tensor we own, `name` is 'static, and
    // the destructor only frees it while the capsule still carries `name`
    // (a consumer renames it to "used_…" when it takes ownership).
    let raw = unsafe { pyo3::ffi::PyCapsule_New(ptr, name.as_ptr(), Some(destructor)) };
    if raw.is_null() {
        // SAFETY: nobody else has seen `ptr`; run its deleter ourselves.
        unsafe { destructor_for(ptr, name) };
        return Err(PyErr::fetch(py));
    }
    // SAFETY: PyCapsule_New returned a new (owned) reference.
    Ok(unsafe { Bound::from_owned_ptr(py, raw) })
}

/// Call the deleter of an unconsumed tensor behind `ptr` named `name`.
unsafe fn destructor_for(ptr: *mut c_void, name: &CStr) {
    if name == c"dltensor_versioned" {
        let p = ptr.cast::<DLManagedTensorVersioned>();
        // SAFETY: (caller) `ptr` is a live, unconsumed versioned tensor.
        if let Some(d) = unsafe { (*p).deleter } {
            // SAFETY: its own deleter, called once.
            unsafe { d(p) };
        }
    } else {
        let p = ptr.cast::<DLManagedTensor>();
        // SAFETY: (caller) `ptr` is a live, unconsumed legacy tensor.
        if let Some(d) = unsafe { (*p).deleter } {
            // SAFETY: its own deleter, called once.
            unsafe { d(p) };
        }
    }
}

unsafe fn drop_capsule(cap: *mut pyo3::ffi::PyObject, name: &CStr) {
    // SAFETY: `cap` is the capsule being destroyed; IsValid only reads its
    // name and sets no error.
    if unsafe { pyo3::ffi::PyCapsule_IsValid(cap, name.as_ptr()) } != 1 {
        return; // consumed (renamed to "used_…"): the consumer owns the tensor
    }
    // SAFETY: valid capsule with this name (checked above).
    let ptr = unsafe { pyo3::ffi::PyCapsule_GetPointer(cap, name.as_ptr()) };
    if !ptr.is_null() {
        // SAFETY: an unconsumed tensor we created under this name.
        unsafe { destructor_for(ptr, name) };
    }
}

unsafe extern "C" fn versioned_capsule_destructor(cap: *mut pyo3::ffi::PyObject) {
    // SAFETY: called by Python with the capsule being destroyed.
    unsafe { drop_capsule(cap, c"dltensor_versioned") }
}

unsafe extern "C" fn legacy_capsule_destructor(cap: *mut pyo3::ffi::PyObject) {
    // SAFETY: called by Python with the capsule being destroyed.
    unsafe { drop_capsule(cap, c"dltensor") }
}

// ------------------------------------------------------------------ Pool

/// A pool of reusable 64-byte-aligned buffers (`zc_buffers::Pool`).
/// `acquire(nbytes)` returns a `Buffer`; when the last reference to it (and
/// to every numpy array or DLPack tensor made from it) is gone, the memory
/// returns to the pool and the next acquire of that size class is a hit.
#[pyclass(module = "zc.buffers", name = "Pool", frozen)]
pub struct PyPool {
    pool: zc_buffers::Pool,
}

#[pymethods]
impl PyPool {
    #[new]
    #[pyo3(signature = (*, name="zc-py", cap_bytes=None, zero_on_release=false))]
    fn new(name: &str, cap_bytes: Option<usize>, zero_on_release: bool) -> PyResult<Self> {
        let mut b = zc_buffers::Pool::builder().name(name).zero_on_release(zero_on_release);
        if let Some(c) = cap_bytes {
            b = b.cap_bytes(c);
        }
        Ok(Self {
            pool: b.build().map_err(buffer_err)?,
        })
    }

    /// A buffer of `nbytes` bytes, presented as `dtype` with `shape`
    /// (default: `uint8[nbytes]`). Fails when the pool's cap is reached.
    #[pyo3(signature = (nbytes, dtype="uint8", shape=None))]
    fn acquire(&self, py: Python<'_>, nbytes: usize, dtype: &str, shape: Option<Vec<usize>>) -> PyResult<PyBuffer> {
        let elem = Elem::parse(dtype)?;
        let shape = match shape {
            Some(s) => s,
            None if nbytes.is_multiple_of(elem.size()) => vec![nbytes / elem.size()],
            None => {
                return Err(err(
                    Kind::Shape,
                    format!("{nbytes} bytes is not a whole number of {dtype}"),
                ));
            }
        };
        let pool = self.pool.clone();
        let guard = py.detach(move || pool.acquire(nbytes)).map_err(buffer_err)?;
        PyBuffer::new(Arc::new(PoolOwner(guard)), elem, shape, false)
    }

    /// Counters: hits, misses, evictions, exhausted, in_use, in_use_bytes,
    /// idle_bytes, held_bytes, high_water_bytes, cap_bytes.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.pool.stats();
        let d = PyDict::new(py);
        d.set_item("hits", s.hits)?;
        d.set_item("misses", s.misses)?;
        d.set_item("evictions", s.evictions)?;
        d.set_item("exhausted", s.exhausted)?;
        d.set_item("in_use", s.in_use)?;
        d.set_item("in_use_bytes", s.in_use_bytes)?;
        d.set_item("idle_bytes", s.idle_bytes)?;
        d.set_item("held_bytes", s.held_bytes)?;
        d.set_item("high_water_bytes", s.high_water_bytes)?;
        d.set_item("cap_bytes", s.cap_bytes)?;
        Ok(d)
    }

    /// Free every idle buffer; returns the bytes released.
    fn trim(&self) -> usize {
        self.pool.trim()
    }

    fn __repr__(&self) -> String {
        format!("zc.buffers.Pool({:?})", self.pool)
    }
}

/// A zeroed, 64-byte-aligned numpy array owned by zc (`zc.buffers.empty`).
#[pyfunction]
#[pyo3(signature = (shape, dtype="uint8"))]
fn aligned<'py>(py: Python<'py>, shape: Vec<usize>, dtype: &str) -> PyResult<Bound<'py, PyAny>> {
    aligned_ndarray(py, Elem::parse(dtype)?, shape)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<LedgerScope>()?;
    m.add_class::<AllocScope>()?;
    m.add_class::<PyBuffer>()?;
    m.add_class::<PyPool>()?;
    m.add_function(wrap_pyfunction!(ledger, m)?)?;
    m.add_function(wrap_pyfunction!(count_allocations, m)?)?;
    m.add_function(wrap_pyfunction!(aligned, m)?)?;
    Ok(())
}
