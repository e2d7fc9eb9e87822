//! The single-writer lock: an exclusive advisory lock (`flock` on Unix,
//! `LockFileEx` on Windows, through [`File::try_lock`]) on the store file,
//! held by the writable handle's `File` and released when it closes.
//!
//! `flock` locks belong to the open file description, so two writable opens
//! in one process conflict exactly like two processes do.

use std::fs::{File, TryLockError};
use std::path::Path;

use crate::error::{HvError, Result, io_error};

/// Takes the writer lock on `file` without waiting.
pub(crate) fn lock_exclusive(file: &File, path: &Path) -> Result<()> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(TryLockError::WouldBlock) => Err(HvError::Locked {
            path: path.to_path_buf(),
        }),
        Err(TryLockError::Error(source)) => Err(io_error("lock", path, source)),
    }
}
