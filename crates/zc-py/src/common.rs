//! What every submodule shares: the `zc.ZcError` hierarchy, checked
//! borrowing of numpy inputs and outputs (never a silent copy), and
//! [`kernel`], which runs a crate call with the GIL released, inside the
//! active copy ledgers and the kernel allocation counter.

use std::cell::{Cell, RefCell};
use std::fmt;

use numpy::ndarray::Dimension;
use numpy::{BorrowError, Element, PyArray, PyReadonlyArray, PyReadwriteArray, PyUntypedArray, PyUntypedArrayMethods};
use numpy::{PyArrayDescrMethods, PyArrayMethods};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use zc_buffers::BufferError;
use zc_buffers::ledger::Ledger;

/// The Python exception classes (defined in `zc/errors.py`).
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// `zc.ZcValueError`: a bad argument value.
    Value,
    /// `zc.ShapeError`: wrong shape or length.
    Shape,
    /// `zc.DTypeError`: wrong element type.
    DType,
    /// `zc.CopyRequiredError`: the memory cannot be read in place.
    CopyRequired,
    /// `zc.ReadOnlyError`: an `out=` that may not be written.
    ReadOnly,
    /// `zc.ZcOSError`: a file could not be read or written.
    Os,
    /// `zc.FileFormatError`: a file whose content is invalid.
    FileFormat,
    /// `zc.ZcRuntimeError`: an internal failure (worker panic, busy object).
    Runtime,
}

impl Kind {
    fn class_name(self) -> &'static str {
        match self {
            Kind::Value => "ZcValueError",
            Kind::Shape => "ShapeError",
            Kind::DType => "DTypeError",
            Kind::CopyRequired => "CopyRequiredError",
            Kind::ReadOnly => "ReadOnlyError",
            Kind::Os => "ZcOSError",
            Kind::FileFormat => "FileFormatError",
            Kind::Runtime => "ZcRuntimeError",
        }
    }
}

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// A `zc` exception of `kind` carrying `msg` (the Rust error's message).
pub fn err(kind: Kind, msg: impl Into<String>) -> PyErr {
    let msg = msg.into();
    Python::attach(|py| {
        let class = ERRORS
            .get_or_try_init(py, || py.import("zc.errors").map(Bound::unbind))
            .and_then(|m| m.bind(py).getattr(kind.class_name()))
            .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
        match class {
            Ok(c) => PyErr::from_type(c, msg),
            Err(e) => e,
        }
    })
}

/// The class of a shared [`BufferError`].
pub fn buffer_kind(e: &BufferError) -> Kind {
    match e {
        BufferError::LengthMismatch { .. }
        | BufferError::OutputTooSmall { .. }
        | BufferError::RangeOutOfBounds { .. }
        | BufferError::ShapeMismatch { .. }
        | BufferError::RankMismatch { .. }
        | BufferError::LengthNotMultiple { .. }
        | BufferError::OutOfBounds { .. } => Kind::Shape,
        BufferError::Misaligned { .. } | BufferError::NotContiguous { .. } => Kind::CopyRequired,
        BufferError::WorkerPanicked { .. } => Kind::Runtime,
        BufferError::Io { .. } | BufferError::EmptyFile { .. } | BufferError::FileTooShort { .. } => Kind::Os,
        _ => Kind::Value,
    }
}

/// A [`BufferError`] as a Python exception.
pub fn buffer_err(e: BufferError) -> PyErr {
    err(buffer_kind(&e), e.to_string())
}

/// The full message of an error and its sources (`a: b: c`), so the Python
/// message keeps everything the Rust error chain says.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(cause) = src {
        let c = cause.to_string();
        if !s.contains(&c) {
            s.push_str(": ");
            s.push_str(&c);
        }
        src = cause.source();
    }
    s
}

fn describe(a: &Bound<'_, PyUntypedArray>) -> String {
    let dtype = a.dtype().str().map(|s| s.to_string()).unwrap_or_else(|_| "?".into());
    format!("{} array of shape {:?}", dtype, a.shape())
}

/// An argument's name in error messages, `what[index]` (e.g. `clips[3]`),
/// formatted only when an error is raised: the happy path of a call builds
/// no strings.
#[derive(Clone, Copy, Debug)]
pub struct Item<'a>(pub &'a str, pub usize);

impl fmt::Display for Item<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.0, self.1)
    }
}

/// `obj` as an ndarray without copying: an ndarray as is, any other DLPack
/// producer through `numpy.from_dlpack` (which shares its memory).
fn as_ndarray<'py>(obj: &Bound<'py, PyAny>, what: impl fmt::Display) -> PyResult<Bound<'py, PyUntypedArray>> {
    if let Ok(a) = obj.cast::<PyUntypedArray>() {
        return Ok(a.clone());
    }
    let py = obj.py();
    if obj.hasattr(intern!(py, "__dlpack__"))? {
        let a = py
            .import(intern!(py, "numpy"))?
            .getattr(intern!(py, "from_dlpack"))?
            .call1((obj,))?;
        return a.cast_into::<PyUntypedArray>().map_err(|_| {
            err(
                Kind::DType,
                format!("{what}: numpy.from_dlpack did not return an ndarray"),
            )
        });
    }
    let tname = obj.get_type().name().map(|n| n.to_string()).unwrap_or_default();
    Err(err(
        Kind::DType,
        format!("{what} must be a numpy array or a DLPack producer, got {tname}"),
    ))
}

/// Check dtype and rank, naming both the expected and the actual array.
/// Allocates nothing on the Rust heap unless it fails.
fn typed<'py, T: Element, D: Dimension>(
    a: Bound<'py, PyUntypedArray>,
    what: impl fmt::Display,
    dtype_name: &str,
) -> PyResult<Bound<'py, PyArray<T, D>>> {
    let py = a.py();
    if !a.dtype().is_equiv_to(&numpy::dtype::<T>(py)) {
        return Err(err(
            Kind::DType,
            format!(
                "{what} must be {dtype_name}, got a {} (no implicit conversion: it would copy)",
                describe(&a)
            ),
        ));
    }
    if let Some(nd) = D::NDIM
        && a.ndim() != nd
    {
        return Err(err(
            Kind::Shape,
            format!("{what} must be {nd}-dimensional, got a {}", describe(&a)),
        ));
    }
    a.into_any().cast_into::<PyArray<T, D>>().map_err(|e| {
        let desc = e
            .into_inner()
            .cast_into::<PyUntypedArray>()
            .map(|a| describe(&a))
            .unwrap_or_default();
        err(Kind::DType, format!("{what}: unexpected {desc}"))
    })
}

/// Borrow an input array of `T` (rank `D`) for reading, shared with numpy.
///
/// The borrow is recorded in rust-numpy's process-wide borrow table, which
/// allocates one small entry (under 256 bytes) per borrowed base array and
/// frees it when the borrow ends; that is the call's only Rust heap traffic
/// on the happy path.
pub fn input<'py, T: Element, D: Dimension>(
    obj: &Bound<'py, PyAny>,
    what: impl fmt::Display + Copy,
    dtype_name: &str,
) -> PyResult<PyReadonlyArray<'py, T, D>> {
    let a = typed::<T, D>(as_ndarray(obj, what)?, what, dtype_name)?;
    a.try_readonly()
        .map_err(|e| err(Kind::Value, format!("{what} cannot be borrowed for reading: {e}")))
}

/// Borrow an `out=` array of `T` (rank `D`) for writing. A read-only array
/// or one already borrowed (e.g. `out` is also an input) is refused.
pub fn output<'py, T: Element, D: Dimension>(
    obj: &Bound<'py, PyAny>,
    what: impl fmt::Display + Copy,
    dtype_name: &str,
) -> PyResult<PyReadwriteArray<'py, T, D>> {
    let a = typed::<T, D>(as_ndarray(obj, what)?, what, dtype_name)?;
    // rust-numpy checks the writeable flag before it records the borrow
    a.try_readwrite().map_err(|e| match e {
        BorrowError::NotWriteable => err(
            Kind::ReadOnly,
            format!("{what} is read-only ({})", describe(a.as_untyped())),
        ),
        e => err(
            Kind::Value,
            format!("{what} cannot be borrowed for writing ({e}); is it also an input of this call?"),
        ),
    })
}

/// The contiguous elements of a borrowed input, or the error that says a
/// copy would be needed (zc never copies silently).
pub fn slice<'a, T: Element, D: Dimension>(
    a: &'a PyReadonlyArray<'_, T, D>,
    what: impl fmt::Display,
) -> PyResult<&'a [T]> {
    // rust-numpy's `as_slice` also accepts Fortran order, whose flat
    // elements are the transpose of what the Rust call expects
    let c_order = a.is_c_contiguous();
    a.as_slice().ok().filter(|_| c_order).ok_or_else(|| {
        err(
            Kind::CopyRequired,
            format!(
                "{what} is not C-contiguous (strides {:?}); reading it would need a copy, which zc never makes \
                 silently: pass numpy.ascontiguousarray({what})",
                a.strides()
            ),
        )
    })
}

/// The contiguous elements of a borrowed output, or a [`Kind::CopyRequired`] error.
pub fn slice_mut<'a, T: Element, D: Dimension>(
    a: &'a mut PyReadwriteArray<'_, T, D>,
    what: impl fmt::Display,
) -> PyResult<&'a mut [T]> {
    if !a.is_c_contiguous() {
        return Err(err(
            Kind::CopyRequired,
            format!(
                "{what} is not C-contiguous (strides {:?}); pass a C-contiguous array",
                a.strides()
            ),
        ));
    }
    a.as_slice_mut()
        .map_err(|_| err(Kind::CopyRequired, format!("{what} is not C-contiguous")))
}

thread_local! {
    /// The ledgers of the `zc.buffers.ledger()` blocks open on this thread.
    static LEDGERS: RefCell<Vec<Ledger>> = const { RefCell::new(Vec::new()) };
    /// Heap calls made inside kernels on this thread since it started.
    static KERNEL_HEAP_CALLS: Cell<u64> = const { Cell::new(0) };
}

/// Open a ledger block on this thread.
pub fn push_ledger(l: Ledger) {
    LEDGERS.with(|s| s.borrow_mut().push(l));
}

/// Close the innermost ledger block on this thread.
pub fn pop_ledger() {
    LEDGERS.with(|s| {
        s.borrow_mut().pop();
    });
}

/// Heap calls (allocations + reallocations) made inside kernels on this thread so far.
pub fn kernel_heap_calls() -> u64 {
    KERNEL_HEAP_CALLS.with(Cell::get)
}

fn enter_all<R>(ledgers: &[Ledger], f: impl FnOnce() -> R) -> R {
    match ledgers.split_first() {
        None => f(),
        Some((first, rest)) => first.enter(|| enter_all(rest, f)),
    }
}

/// Run a crate call with the GIL released, recorded by every ledger block
/// open on this thread and counted by the kernel allocation counter.
///
/// `py.detach` runs `f` on this same thread, so the thread-local ledger
/// stack is the caller's. The arrays `f` reads and writes are borrowed by
/// the caller through rust-numpy (see the crate docs) for the whole call.
pub fn kernel<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> T {
    py.detach(|| {
        LEDGERS.with(|s| {
            let ledgers = s.borrow();
            enter_all(&ledgers, || {
                let before = zc_buffers::testing::thread_stats().heap_calls();
                let r = f();
                let after = zc_buffers::testing::thread_stats().heap_calls();
                KERNEL_HEAP_CALLS.with(|c| c.set(c.get() + after.saturating_sub(before)));
                r
            })
        })
    })
}
