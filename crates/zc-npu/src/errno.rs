//! `errno` around XRT calls that report failure as a NULL handle.

/// Set `errno` to 0 so that a value read after a failing call was set by it.
pub(crate) fn clear() {
    #[cfg(target_os = "linux")]
    // SAFETY: __errno_location returns a valid pointer to this thread's errno.
    unsafe {
        *libc::__errno_location() = 0;
    }
}

/// This thread's `errno` (0 when none is set).
pub(crate) fn last() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}
