//! The error type of every zc-cuda API, and its conversion to
//! [`zc_buffers::BufferError`].

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
    /// A byte count too large to describe.
    #[error("{what}: {len} bytes is too large")]
    TooLarge {
        /// What was being done.
        what: &'static str,
        /// The byte count.
        len: usize,
    },
    /// An asynchronous copy whose host side is pageable memory: the driver
    /// would copy it synchronously, so zc-cuda refuses it.
    #[error(
        "{what}: an asynchronous copy needs page-locked host memory (pinned, registered or managed), \
         this buffer's residency is {residency:?}; register it in place (Registered::new) or use the \
         synchronous copy_htod / copy_dtoh"
    )]
    Pageable {
        /// Which side of which copy.
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

impl<T> From<zc_buffers::Rejected<T, CudaError>> for CudaError {
    fn from(r: zc_buffers::Rejected<T, CudaError>) -> Self {
        r.error
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
        let empty = CudaError::Buffer(BufferError::EmptyBuffer { what: "test" });
        let r = zc_buffers::Rejected::new(empty, vec![1u8, 2, 3]);
        assert!(r.to_string().contains("zero-length"));
        let (e, v) = r.into_parts();
        assert!(matches!(e, CudaError::Buffer(BufferError::EmptyBuffer { .. })));
        assert_eq!(v, vec![1, 2, 3]);
        let back: CudaError = zc_buffers::Rejected::new(CudaError::NoDriver, ()).into();
        assert!(back.is_unavailable());
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
