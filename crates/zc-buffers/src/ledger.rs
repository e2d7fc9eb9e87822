//! The copy/allocation ledger: makes "zero-copy" a checkable claim.
//!
//! Every code path in zc that copies bytes on purpose (a transpose into a new
//! layout, a realigning copy, a host↔device transfer, a sample-format
//! conversion) calls [`record_copy`]; deliberate allocations call
//! [`record_alloc`]. Run code under [`scope`] to get the figures back:
//!
//! ```
//! use zc_buffers::ledger::{self, CopyKind};
//! let (result, report) = ledger::scope(|| {
//!     let src = [1u8; 100];
//!     let mut dst = [0u8; 100];
//!     ledger::copy_bytes(&mut dst, &src, CopyKind::Other)
//! });
//! result?;
//! assert_eq!(report.copies, 1);
//! assert_eq!(report.bytes_copied, 100);
//! # Ok::<(), zc_buffers::BufferError>(())
//! ```
//!
//! Scopes are per thread and nest (an outer scope sees what inner scopes
//! saw). To count work done on other threads, take [`Ledger::current`] and
//! [`Ledger::enter`] it on the worker. Recording never allocates, so the
//! ledger can stay on in hot paths; with no scope active a record is one
//! thread-local read.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::error::{BufferError, Result};

/// Why bytes were copied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(usize)]
pub enum CopyKind {
    /// Written into another layout (transpose).
    Transpose = 0,
    /// Copied to satisfy an alignment requirement.
    Realign = 1,
    /// Converted between element types (e.g. i16 WAV samples → f32).
    Convert = 2,
    /// Host → device transfer.
    HostToDevice = 3,
    /// Device → host transfer.
    DeviceToHost = 4,
    /// Device → device transfer.
    DeviceToDevice = 5,
    /// Into or out of an accelerator buffer object.
    BufferObject = 6,
    /// Anything else that is deliberate.
    Other = 7,
}

impl CopyKind {
    /// Every kind, in index order.
    pub const ALL: [CopyKind; 8] = [
        CopyKind::Transpose,
        CopyKind::Realign,
        CopyKind::Convert,
        CopyKind::HostToDevice,
        CopyKind::DeviceToHost,
        CopyKind::DeviceToDevice,
        CopyKind::BufferObject,
        CopyKind::Other,
    ];

    /// A short lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            CopyKind::Transpose => "transpose",
            CopyKind::Realign => "realign",
            CopyKind::Convert => "convert",
            CopyKind::HostToDevice => "host_to_device",
            CopyKind::DeviceToHost => "device_to_host",
            CopyKind::DeviceToDevice => "device_to_device",
            CopyKind::BufferObject => "buffer_object",
            CopyKind::Other => "other",
        }
    }
}

const KINDS: usize = CopyKind::ALL.len();

/// Figures gathered by a ledger.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LedgerReport {
    /// Number of deliberate copies.
    pub copies: u64,
    /// Bytes those copies moved.
    pub bytes_copied: u64,
    /// Deliberate allocations (buffer creations, pool misses).
    pub allocations: u64,
    /// Bytes those allocations asked for.
    pub bytes_allocated: u64,
    /// Copies per [`CopyKind`] (index = `kind as usize`).
    pub copies_by_kind: [u64; KINDS],
    /// Bytes per [`CopyKind`].
    pub bytes_by_kind: [u64; KINDS],
}

impl LedgerReport {
    /// Copies of one kind.
    pub fn copies_of(&self, kind: CopyKind) -> u64 {
        self.copies_by_kind[kind as usize]
    }
    /// Bytes copied by one kind.
    pub fn bytes_of(&self, kind: CopyKind) -> u64 {
        self.bytes_by_kind[kind as usize]
    }
    /// True when nothing was copied.
    pub fn is_zero_copy(&self) -> bool {
        self.copies == 0
    }
}

impl fmt::Display for LedgerReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} copies / {} bytes, {} allocations / {} bytes",
            self.copies, self.bytes_copied, self.allocations, self.bytes_allocated
        )?;
        for k in CopyKind::ALL {
            let c = self.copies_of(k);
            if c > 0 {
                write!(f, "; {}: {} / {} B", k.name(), c, self.bytes_of(k))?;
            }
        }
        Ok(())
    }
}

#[derive(Default)]
struct Inner {
    copies: [AtomicU64; KINDS],
    bytes: [AtomicU64; KINDS],
    allocs: AtomicU64,
    alloc_bytes: AtomicU64,
}

/// A shareable ledger. Cloning shares the counters.
#[derive(Clone, Default)]
pub struct Ledger {
    inner: Arc<Inner>,
}

thread_local! {
    static ACTIVE: RefCell<Vec<Ledger>> = const { RefCell::new(Vec::new()) };
}

impl Ledger {
    /// A ledger with zeroed counters.
    pub fn new() -> Self {
        Self::default()
    }

    /// The innermost ledger active on this thread, to hand to worker threads.
    pub fn current() -> Option<Ledger> {
        ACTIVE.try_with(|a| a.borrow().last().cloned()).ok().flatten()
    }

    /// Run `f` with this ledger (and any enclosing ones on this thread)
    /// recording what `f` copies on this thread.
    pub fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Pop;
        impl Drop for Pop {
            fn drop(&mut self) {
                let _ = ACTIVE.try_with(|a| a.borrow_mut().pop());
            }
        }
        let _ = ACTIVE.try_with(|a| a.borrow_mut().push(self.clone()));
        let _pop = Pop;
        f()
    }

    /// The figures so far.
    pub fn report(&self) -> LedgerReport {
        let mut r = LedgerReport {
            allocations: self.inner.allocs.load(Relaxed),
            bytes_allocated: self.inner.alloc_bytes.load(Relaxed),
            ..LedgerReport::default()
        };
        for i in 0..KINDS {
            r.copies_by_kind[i] = self.inner.copies[i].load(Relaxed);
            r.bytes_by_kind[i] = self.inner.bytes[i].load(Relaxed);
        }
        r.copies = r.copies_by_kind.iter().sum();
        r.bytes_copied = r.bytes_by_kind.iter().sum();
        r
    }

    /// Zero the counters.
    pub fn reset(&self) {
        for i in 0..KINDS {
            self.inner.copies[i].store(0, Relaxed);
            self.inner.bytes[i].store(0, Relaxed);
        }
        self.inner.allocs.store(0, Relaxed);
        self.inner.alloc_bytes.store(0, Relaxed);
    }

    fn add_copy(&self, kind: CopyKind, bytes: usize) {
        self.inner.copies[kind as usize].fetch_add(1, Relaxed);
        self.inner.bytes[kind as usize].fetch_add(bytes as u64, Relaxed);
    }

    fn add_alloc(&self, bytes: usize) {
        self.inner.allocs.fetch_add(1, Relaxed);
        self.inner.alloc_bytes.fetch_add(bytes as u64, Relaxed);
    }
}

impl fmt::Debug for Ledger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Ledger").field(&self.report()).finish()
    }
}

/// Run `f` under a fresh ledger and return its result with what it copied
/// and allocated on this thread (and on threads it handed the ledger to).
pub fn scope<R>(f: impl FnOnce() -> R) -> (R, LedgerReport) {
    let l = Ledger::new();
    let r = l.enter(f);
    (r, l.report())
}

/// Record a deliberate copy of `bytes` bytes in every active ledger.
#[inline]
pub fn record_copy(kind: CopyKind, bytes: usize) {
    let _ = ACTIVE.try_with(|a| {
        if let Ok(a) = a.try_borrow() {
            for l in a.iter() {
                l.add_copy(kind, bytes);
            }
        }
    });
}

/// Record a deliberate allocation of `bytes` bytes in every active ledger.
#[inline]
pub fn record_alloc(bytes: usize) {
    let _ = ACTIVE.try_with(|a| {
        if let Ok(a) = a.try_borrow() {
            for l in a.iter() {
                l.add_alloc(bytes);
            }
        }
    });
}

/// Copy `src` into `dst` (equal lengths) and record it.
pub fn copy_bytes(dst: &mut [u8], src: &[u8], kind: CopyKind) -> Result<()> {
    copy_slice(dst, src, kind)
}

/// Copy `src` into `dst` (equal lengths) and record the bytes moved. On a
/// length mismatch `dst` is left untouched.
pub fn copy_slice<T: Copy>(dst: &mut [T], src: &[T], kind: CopyKind) -> Result<()> {
    if dst.len() != src.len() {
        return Err(BufferError::LengthMismatch {
            expected: std::mem::size_of_val(dst),
            actual: std::mem::size_of_val(src),
        });
    }
    dst.copy_from_slice(src);
    record_copy(kind, std::mem::size_of_val(src));
    Ok(())
}
