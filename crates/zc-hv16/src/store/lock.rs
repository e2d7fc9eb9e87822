//! The single-writer lock: an exclusive advisory lock (`flock` on Unix,
//! `LockFileEx` on Windows, through `fs4`) on the store file, held by the
//! writable handle's `File` and released when it closes.
//!
//! `flock` locks belong to the open file description, so two writable opens
//! in one process conflict exactly like two processes do. `fs4` is used
//! rather than `std::fs::File::try_lock` because that is stable only from
//! Rust 1.89 and the workspace supports 1.88.

use std::fs::File;
use std::path::Path;

use crate::error::{HvError, Result};

/// Takes the writer lock on `file` without waiting.
pub(crate) fn lock_exclusive(file: &File, path: &Path) -> Result<()> {
    // Fully qualified: on Rust >= 1.89 `File` has an inherent `try_lock` too.
    match fs4::FileExt::try_lock(file) {
        Ok(()) => Ok(()),
        Err(fs4::TryLockError::WouldBlock) => Err(HvError::Locked {
            path: path.to_path_buf(),
        }),
        Err(fs4::TryLockError::Error(source)) => Err(HvError::Io {
            op: "lock",
            path: path.to_path_buf(),
            source,
        }),
    }
}
