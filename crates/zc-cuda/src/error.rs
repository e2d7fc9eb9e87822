//! The error type of every zc-cuda API, and its conversion to
//! [`zc_buffers::BufferError`].

use std::fmt;

use zc_buffers::{BufferError, Residency};

/// Everything that can go wrong in zc-cuda. Each variant carries the figures
/// needed to fix the call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CudaError {
    /// `libcuda` (the CUDA driver library) could not be loaded.
    #[error("no CUDA driver: libcuda could not be loaded (no NVIDIA driver installed on this machine)")]
    NoDriver,
    /// The driver is there but the device ordinal asked for is not.
    #[error("no CUDA device {ordinal}: the driver reports {count} device(s)")]
    NoDevice {
        /// The ordinal asked for.
        ordinal: usize,
        /// Devices the driver reports.
        count: usize,
    },
    /// A driver call returned an error code.
    #[error("{call} failed: {name} ({code}): {message}")]
    Driver {
        /// The driver entry point (`cuMemAlloc_v2`, …).
        call: &'static str,
        /// The numeric `CUresult`.
        code: u32,
        /// Its symbolic name (`CUDA_ERROR_OUT_OF_MEMORY`, …).
        name: String,
        /// The driver's description.
        message: String,
    },
    /// The driver library lacks an entry point this call needs (an old
    /// driver), or the binding panicked for another reason; caught, never
    /// propagated as a panic.
    #[error("{call}: the CUDA driver binding failed: {message}")]
    DriverUnusable {
        /// The entry point.
        call: &'static str,
        /// What the binding reported.
        message: String,
    },
    /// An address without the alignment an operation needs.
    #[error("misaligned {what}: address {addr:#x} needs {required}-byte alignment")]
    Misaligned {
        /// What was misaligned.
        what: &'static str,
        /// Alignment required.
        required: usize,
        /// The address.
        addr: usize,
    },
    /// Memory to be page-locked in place does not start on a page boundary.
    #[error(
        "cannot register host memory at {addr:#x}: it must start on a {page}-byte page boundary \
         (allocate it page-aligned, e.g. AlignedBuf::zeroed_aligned(len, 4096) or a pool built with .align(4096))"
    )]
    NotPageAligned {
        /// The address.
        addr: usize,
        /// The page size required.
        page: usize,
    },
    /// Source and destination of a copy have different lengths.
    #[error("size mismatch: {what} needs {expected} bytes, got {actual}")]
    SizeMismatch {
        /// What was being done.
        what: &'static str,
        /// Bytes needed.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// A byte range outside a buffer.
    #[error("range {start}..{end} is outside a buffer of {len} bytes")]
    RangeOutOfBounds {
        /// Range start.
        start: usize,
        /// Range end.
        end: usize,
        /// Buffer length.
        len: usize,
    },
    /// A zero-length allocation or registration (the driver refuses them).
    #[error("{what}: a zero-length buffer cannot be allocated or registered")]
    EmptyBuffer {
        /// What was being done.
        what: &'static str,
    },
    /// A byte count too large to describe.
    #[error("{what}: {len} bytes is too large")]
    TooLarge {
        /// What was being done.
        what: &'static str,
        /// The byte count.
        len: usize,
    },
    /// The operation needs a CPU address and the buffer has none.
    #[error("{what}: a buffer with residency {residency:?} has no host address")]
    NotHostAccessible {
        /// What was being done.
        what: &'static str,
        /// Where the buffer lives.
        residency: Residency,
    },
    /// The operation needs a device address and the buffer has none.
    #[error("{what}: a buffer with residency {residency:?} has no device address")]
    NotDeviceAccessible {
        /// What was being done.
        what: &'static str,
        /// Where the buffer lives.
        residency: Residency,
    },
    /// Host memory that is already page-locked cannot be registered again.
    #[error(
        "cannot register host memory with residency {residency:?}: it is already page-locked or not plain host memory"
    )]
    AlreadyPinned {
        /// Where the buffer lives.
        residency: Residency,
    },
    /// The device cannot allocate managed (unified) memory.
    #[error("CUDA device {ordinal} does not support managed memory (CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY = 0)")]
    ManagedUnsupported {
        /// The device.
        ordinal: usize,
    },
    /// The device does not support page-locking existing host memory.
    #[error(
        "CUDA device {ordinal} does not support cuMemHostRegister (CU_DEVICE_ATTRIBUTE_HOST_REGISTER_SUPPORTED = 0)"
    )]
    RegisterUnsupported {
        /// The device.
        ordinal: usize,
    },
    /// Two objects of one operation belong to different devices.
    #[error("{what}: device {expected} expected, the buffer belongs to device {actual}")]
    WrongDevice {
        /// What was being done.
        what: &'static str,
        /// The stream's device.
        expected: usize,
        /// The buffer's device.
        actual: usize,
    },
    /// An error from zc-buffers (pool, views, DLPack).
    #[error(transparent)]
    Buffer(#[from] BufferError),
}

/// Shorthand for `Result<T, CudaError>`.
pub type Result<T, E = CudaError> = std::result::Result<T, E>;

impl CudaError {
    /// True for the errors that mean "no usable CUDA here" (no driver, no
    /// device), as opposed to a failed operation.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, CudaError::NoDriver | CudaError::NoDevice { .. })
    }

    /// The `CUresult` code of a driver error.
    pub fn driver_code(&self) -> Option<u32> {
        match self {
            CudaError::Driver { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl From<CudaError> for BufferError {
    fn from(e: CudaError) -> Self {
        match e {
            CudaError::Buffer(inner) => inner,
            other => BufferError::Backend {
                backend: "cuda",
                message: other.to_string(),
            },
        }
    }
}

/// An operation that took ownership of `value` and failed: the error, and
/// the value handed back untouched (a host buffer that could not be
/// registered, the buffers of a copy that could not be queued).
///
/// Converts into [`CudaError`] and [`BufferError`] (dropping the value), so
/// `?` works where the value is not wanted back.
pub struct Rejected<T> {
    /// Why it failed.
    pub error: CudaError,
    /// What was handed in, unchanged.
    pub value: T,
}

impl<T> Rejected<T> {
    pub(crate) fn new(error: CudaError, value: T) -> Self {
        Self { error, value }
    }

    /// The value handed back.
    pub fn into_value(self) -> T {
        self.value
    }

    /// Split into the error and the value.
    pub fn into_parts(self) -> (CudaError, T) {
        (self.error, self.value)
    }
}

impl<T> fmt::Debug for Rejected<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejected")
            .field("error", &self.error)
            .field("value", &std::any::type_name::<T>())
            .finish()
    }
}

impl<T> fmt::Display for Rejected<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<T> std::error::Error for Rejected<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl<T> From<Rejected<T>> for CudaError {
    fn from(r: Rejected<T>) -> Self {
        r.error
    }
}

impl<T> From<Rejected<T>> for BufferError {
    fn from(r: Rejected<T>) -> Self {
        r.error.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_error_conversion_keeps_message_and_unwraps_buffer_errors() {
        let e: BufferError = CudaError::NoDriver.into();
        match e {
            BufferError::Backend { backend, message } => {
                assert_eq!(backend, "cuda");
                assert!(message.contains("no CUDA driver"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
        let inner = BufferError::LengthMismatch { expected: 4, actual: 8 };
        let e: BufferError = CudaError::from(inner).into();
        assert!(matches!(e, BufferError::LengthMismatch { expected: 4, actual: 8 }));
    }

    #[test]
    fn rejected_hands_back_the_value() {
        let r = Rejected::new(CudaError::EmptyBuffer { what: "test" }, vec![1u8, 2, 3]);
        assert!(r.to_string().contains("zero-length"));
        let (e, v) = r.into_parts();
        assert!(matches!(e, CudaError::EmptyBuffer { .. }));
        assert_eq!(v, vec![1, 2, 3]);
    }

    #[test]
    fn unavailable_classification() {
        assert!(CudaError::NoDriver.is_unavailable());
        assert!(CudaError::NoDevice { ordinal: 0, count: 0 }.is_unavailable());
        assert!(!CudaError::ManagedUnsupported { ordinal: 0 }.is_unavailable());
        let d = CudaError::Driver {
            call: "cuMemAlloc_v2",
            code: 2,
            name: "CUDA_ERROR_OUT_OF_MEMORY".into(),
            message: "out of memory".into(),
        };
        assert_eq!(d.driver_code(), Some(2));
        assert!(
            d.to_string()
                .contains("cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (2)")
        );
    }
}
