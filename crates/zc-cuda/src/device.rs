//! A CUDA device handle (primary context + a stream), streams and events.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use cudarc::driver::{CudaContext, CudaEvent, CudaStream, sys};

use crate::driver::{call, init_and_count};
use crate::error::{CudaError, Result};

/// What a device can do, read once when the handle is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceCaps {
    /// `cuMemAllocManaged` works.
    pub managed_memory: bool,
    /// CPU and GPU may touch managed memory at the same time.
    pub concurrent_managed_access: bool,
    /// Stream-ordered allocation (`cuMemAllocAsync`, memory pools).
    pub memory_pools: bool,
    /// `cuMemHostRegister` works.
    pub host_register: bool,
    /// Registered memory keeps its host address on the device.
    pub host_pointer_for_registered: bool,
    /// `CU_MEMHOSTREGISTER_READ_ONLY` works.
    pub read_only_host_register: bool,
    /// Unified virtual addressing.
    pub unified_addressing: bool,
}

struct Inner {
    ctx: Arc<CudaContext>,
    ordinal: usize,
    caps: DeviceCaps,
    name: String,
    stream: Stream,
}

/// A CUDA device: its retained primary context, its capabilities, and one
/// non-blocking stream for the synchronous conveniences. Cloning is cheap
/// (shared); every buffer keeps its device alive.
#[derive(Clone)]
pub struct CudaDevice {
    inner: Arc<Inner>,
}

impl fmt::Debug for CudaDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CudaDevice")
            .field("ordinal", &self.inner.ordinal)
            .field("name", &self.inner.name)
            .field("caps", &self.inner.caps)
            .finish()
    }
}

impl CudaDevice {
    /// Open device `ordinal` (retains its primary context).
    ///
    /// `Err(NoDriver)` without libcuda, `Err(NoDevice)` when the ordinal is
    /// not there; never panics.
    pub fn new(ordinal: usize) -> Result<Self> {
        let count = init_and_count()?;
        if ordinal >= count {
            return Err(CudaError::NoDevice { ordinal, count });
        }
        let ctx = call("cuDevicePrimaryCtxRetain", || CudaContext::new(ordinal))?;
        let attr = |a: sys::CUdevice_attribute| -> Result<bool> {
            Ok(call("cuDeviceGetAttribute", || ctx.attribute(a))? != 0)
        };
        use sys::CUdevice_attribute as A;
        let caps = DeviceCaps {
            managed_memory: attr(A::CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY)?,
            concurrent_managed_access: attr(A::CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS)?,
            memory_pools: ctx.has_async_alloc(),
            host_register: attr(A::CU_DEVICE_ATTRIBUTE_HOST_REGISTER_SUPPORTED)?,
            host_pointer_for_registered: attr(A::CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM)?,
            read_only_host_register: attr(A::CU_DEVICE_ATTRIBUTE_READ_ONLY_HOST_REGISTER_SUPPORTED)?,
            unified_addressing: attr(A::CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING)?,
        };
        let name = call("cuDeviceGetName", || ctx.name())?;
        let stream = Stream {
            inner: call("cuStreamCreate", || ctx.new_stream())?,
            ordinal,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                ctx,
                ordinal,
                caps,
                name,
                stream,
            }),
        })
    }

    /// Device 0, opened once per process and shared (what
    /// [`Registered::new`](crate::Registered::new) uses).
    pub fn default_device() -> Result<Self> {
        static DEFAULT: Mutex<Option<CudaDevice>> = Mutex::new(None);
        let mut slot = DEFAULT.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(d) = slot.as_ref() {
            return Ok(d.clone());
        }
        let d = CudaDevice::new(0)?;
        *slot = Some(d.clone());
        Ok(d)
    }

    /// The device ordinal.
    pub fn ordinal(&self) -> usize {
        self.inner.ordinal
    }

    /// The device's name ("NVIDIA H100 80GB HBM3", …).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// What the device supports.
    pub fn caps(&self) -> DeviceCaps {
        self.inner.caps
    }

    /// Total device memory in bytes.
    pub fn total_mem(&self) -> Result<usize> {
        call("cuDeviceTotalMem_v2", || self.inner.ctx.total_mem())
    }

    /// `(free, total)` device memory in bytes.
    pub fn mem_info(&self) -> Result<(usize, usize)> {
        call("cuMemGetInfo_v2", || self.inner.ctx.mem_get_info())
    }

    /// The device's own non-blocking stream (used by the synchronous
    /// conveniences and for zeroing new allocations).
    pub fn stream(&self) -> &Stream {
        &self.inner.stream
    }

    /// A new non-blocking stream on this device.
    pub fn new_stream(&self) -> Result<Stream> {
        Ok(Stream {
            inner: call("cuStreamCreate", || self.inner.ctx.new_stream())?,
            ordinal: self.inner.ordinal,
        })
    }

    /// Wait for all work on the device.
    pub fn synchronize(&self) -> Result<()> {
        call("cuCtxSynchronize", || self.inner.ctx.synchronize())
    }

    /// The cudarc context, for work zc-cuda does not wrap (kernels).
    pub fn context(&self) -> &Arc<CudaContext> {
        &self.inner.ctx
    }

    /// Make this device's context current on the calling thread.
    pub(crate) fn bind(&self) -> Result<()> {
        call("cuCtxSetCurrent", || self.inner.ctx.bind_to_thread())
    }

    pub(crate) fn cu_device(&self) -> sys::CUdevice {
        self.inner.ctx.cu_device()
    }
}

/// A CUDA stream (non-blocking). Work queued on it runs in order,
/// asynchronously to the host. Cloning shares the stream.
#[derive(Clone, Debug)]
pub struct Stream {
    inner: Arc<CudaStream>,
    ordinal: usize,
}

impl Stream {
    /// The device ordinal.
    pub fn ordinal(&self) -> usize {
        self.ordinal
    }

    /// The cudarc stream, for work zc-cuda does not wrap (kernels).
    pub fn cuda_stream(&self) -> &Arc<CudaStream> {
        &self.inner
    }

    pub(crate) fn raw(&self) -> sys::CUstream {
        self.inner.cu_stream()
    }

    pub(crate) fn bind(&self) -> Result<()> {
        call("cuCtxSetCurrent", || self.inner.context().bind_to_thread())
    }

    /// Block until everything queued so far has finished.
    pub fn synchronize(&self) -> Result<()> {
        call("cuStreamSynchronize", || self.inner.synchronize())
    }

    /// Record an event after the work queued so far. `timing` enables
    /// [`Event::elapsed`] (a little more costly to record).
    pub fn record_event(&self, timing: bool) -> Result<Event> {
        let flags = if timing {
            sys::CUevent_flags::CU_EVENT_DEFAULT
        } else {
            sys::CUevent_flags::CU_EVENT_DISABLE_TIMING
        };
        let ev = call("cuEventRecord", || self.inner.record_event(Some(flags)))?;
        Ok(Event { inner: ev, timing })
    }

    /// Make work queued later on this stream wait for `event`.
    pub fn wait_event(&self, event: &Event) -> Result<()> {
        call("cuStreamWaitEvent", || self.inner.wait(&event.inner))
    }
}

/// A point in a stream's work, for completion and timing.
#[derive(Debug)]
pub struct Event {
    inner: CudaEvent,
    timing: bool,
}

impl Event {
    /// Block until the work before the event has finished.
    pub fn synchronize(&self) -> Result<()> {
        call("cuEventSynchronize", || self.inner.synchronize())
    }

    /// True when the work before the event has finished (does not block).
    pub fn is_complete(&self) -> Result<bool> {
        call("cuEventQuery", || self.inner.try_is_complete())
    }

    /// Time from this event to `end` (waits for both). Both need `timing`.
    pub fn elapsed(&self, end: &Event) -> Result<Duration> {
        if !self.timing || !end.timing {
            return Err(CudaError::DriverUnusable {
                call: "cuEventElapsedTime",
                message: "both events must be recorded with timing enabled".to_string(),
            });
        }
        let ms = call("cuEventElapsedTime", || self.inner.elapsed_ms(&end.inner))?;
        Ok(Duration::from_secs_f64(f64::from(ms.max(0.0)) / 1000.0))
    }
}
