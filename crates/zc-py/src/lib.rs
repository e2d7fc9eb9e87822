//! `zc._zc`: the compiled half of the Python package `zc`.
//!
//! One file per Python submodule (`buffers`, `mel`, `hv16`, `volterra`),
//! each a thin layer over the Rust crate of the same name: arguments are
//! checked and borrowed, the crate's own API runs with the GIL released
//! (`common::kernel`), and errors become `zc.ZcError` subclasses
//! (`common`). No numerical logic lives here.
//!
//! # Borrowed arrays while the GIL is released
//!
//! Every numpy input is held as a `numpy::PyReadonlyArray` and every `out=`
//! as a `numpy::PyReadwriteArray` for the whole call. rust-numpy's borrow
//! checker records these borrows in a process-wide table that every
//! rust-numpy extension consults, so while a kernel runs without the GIL
//! no other Rust extension can take a mutable borrow of the same memory,
//! and `out=` cannot alias an input (that borrow fails before anything is
//! written). The Python objects themselves stay referenced by the call's
//! frame, so their memory cannot be freed. Pure-Python code that writes
//! into an input array from another thread during the call is not
//! prevented (numpy has no lock); that is the same contract numpy's own
//! GIL-releasing functions have.

use pyo3::prelude::*;

mod buffers;
mod common;
mod hv16;
mod mel;
mod volterra;

/// The counting allocator: every Rust heap allocation the extension makes
/// is counted per thread, so `zc.buffers.count_allocations()` can prove the
/// steady-state `out=` paths allocate nothing.
#[global_allocator]
static ALLOC: zc_buffers::testing::CountingAllocator = zc_buffers::testing::CountingAllocator::new();

#[pymodule]
fn _zc(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    for (name, init) in [
        ("buffers", buffers::register as fn(&Bound<'_, PyModule>) -> PyResult<()>),
        ("mel", mel::register),
        ("hv16", hv16::register),
        ("volterra", volterra::register),
    ] {
        let sub = PyModule::new(py, name)?;
        init(&sub)?;
        m.add_submodule(&sub)?;
    }
    Ok(())
}
