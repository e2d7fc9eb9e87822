//! Host↔device and device↔device copies: synchronous on borrowed buffers,
//! asynchronous on owned ones. Every copy records itself in the zc-buffers
//! ledger when it is queued.

use std::ffi::c_void;
use std::fmt;
use std::time::Duration;

use cudarc::driver::sys;
use zc_buffers::ledger::CopyKind;
use zc_buffers::{Buffer, BufferError, HostBuffer, HostBufferMut, Rejected, Residency, StableBytes};

use crate::device::{Event, Stream};
use crate::driver::call_sys;
use crate::error::{CudaError, Result};
use crate::kind::CopyPlan;
use crate::memory::DeviceMemory;

/// An asynchronous copy's host side must be page-locked.
fn page_locked<B: Buffer + ?Sized>(what: &'static str, buf: &B) -> Result<()> {
    match buf.residency() {
        Residency::PinnedHost | Residency::RegisteredHost | Residency::Managed => Ok(()),
        residency => Err(CudaError::Pageable { what, residency }),
    }
}

fn plan(kind: CopyKind, src_len: usize, dst_len: usize, src: u64, dst: u64) -> Result<CopyPlan> {
    if src_len != dst_len {
        return Err(BufferError::LengthMismatch {
            expected: src_len,
            actual: dst_len,
        }
        .into());
    }
    Ok(CopyPlan {
        kind,
        bytes: src_len,
        src,
        dst,
    })
}

impl Stream {
    fn check_device<M: DeviceMemory + ?Sized>(&self, what: &'static str, m: &M) -> Result<()> {
        if m.ordinal() != self.ordinal() {
            return Err(CudaError::WrongDevice {
                what,
                expected: self.ordinal(),
                actual: m.ordinal(),
            });
        }
        Ok(())
    }

    /// Queue the copy described by `p` and record it in the ledger.
    ///
    /// # Safety
    /// `p.src` / `p.dst` must address `p.bytes` live bytes of the kind `p.kind`
    /// says (host or device), which stay alive, and are not otherwise
    /// written (nor, for the destination, read), until the copy completes.
    unsafe fn enqueue(&self, p: &CopyPlan) -> Result<()> {
        if p.bytes == 0 {
            return Ok(());
        }
        self.bind()?;
        let raw = self.raw();
        let (src, dst, n) = (p.src, p.dst, p.bytes);
        match p.kind {
            CopyKind::HostToDevice => {
                let host = src as usize as *const c_void;
                // SAFETY: the caller's contract: `host` holds `n` live bytes
                // and `dst` is a device allocation of at least `n` bytes.
                call_sys("cuMemcpyHtoDAsync_v2", || unsafe {
                    sys::cuMemcpyHtoDAsync_v2(dst, host, n, raw)
                })?
            }
            CopyKind::DeviceToHost => {
                let host = dst as usize as *mut c_void;
                // SAFETY: the caller's contract: `host` holds `n` writable
                // bytes nobody else touches, `src` is a device allocation.
                call_sys("cuMemcpyDtoHAsync_v2", || unsafe {
                    sys::cuMemcpyDtoHAsync_v2(host, src, n, raw)
                })?
            }
            _ => {
                // SAFETY: the caller's contract: two device allocations of
                // at least `n` bytes each.
                call_sys("cuMemcpyDtoDAsync_v2", || unsafe {
                    sys::cuMemcpyDtoDAsync_v2(dst, src, n, raw)
                })?
            }
        }
        p.record();
        Ok(())
    }

    fn plan_htod<S: HostBuffer + ?Sized, D: DeviceMemory + ?Sized>(&self, src: &S, dst: &D) -> Result<CopyPlan> {
        self.check_device("host-to-device destination", dst)?;
        let bytes = src.as_bytes();
        plan(
            CopyKind::HostToDevice,
            bytes.len(),
            dst.len(),
            bytes.as_ptr() as usize as u64,
            dst.dptr(),
        )
    }

    fn plan_dtoh<S: DeviceMemory + ?Sized, D: HostBufferMut + ?Sized>(&self, src: &S, dst: &mut D) -> Result<CopyPlan> {
        self.check_device("device-to-host source", src)?;
        let bytes = dst.as_bytes_mut();
        plan(
            CopyKind::DeviceToHost,
            src.len(),
            bytes.len(),
            src.dptr(),
            bytes.as_mut_ptr() as usize as u64,
        )
    }

    fn plan_dtod<S: DeviceMemory + ?Sized, D: DeviceMemory + ?Sized>(&self, src: &S, dst: &D) -> Result<CopyPlan> {
        self.check_device("device-to-device source", src)?;
        self.check_device("device-to-device destination", dst)?;
        plan(CopyKind::DeviceToDevice, src.len(), dst.len(), src.dptr(), dst.dptr())
    }

    /// Copy all of host `src` into device `dst` and wait for it. Pageable
    /// memory is staged by the driver; pinned and registered memory go by
    /// direct DMA. Records one `HostToDevice` copy.
    pub fn copy_htod<S: HostBuffer + ?Sized, D: DeviceMemory + ?Sized>(&self, src: &S, dst: &mut D) -> Result<()> {
        let p = self.plan_htod(src, dst)?;
        // SAFETY: both buffers are borrowed until the stream sync below; the
        // addresses come from a host slice and a zc-cuda allocation of
        // exactly `p.bytes` bytes.
        unsafe { self.enqueue(&p)? };
        self.synchronize()
    }

    /// Copy all of device `src` into host `dst` and wait for it. Records one
    /// `DeviceToHost` copy.
    pub fn copy_dtoh<S: DeviceMemory + ?Sized, D: HostBufferMut + ?Sized>(&self, src: &S, dst: &mut D) -> Result<()> {
        let p = self.plan_dtoh(src, dst)?;
        // SAFETY: as in `copy_htod`; `dst` is borrowed mutably.
        unsafe { self.enqueue(&p)? };
        self.synchronize()
    }

    /// Copy all of device `src` into device `dst` and wait for it. Records
    /// one `DeviceToDevice` copy.
    pub fn copy_dtod<S: DeviceMemory + ?Sized, D: DeviceMemory + ?Sized>(&self, src: &S, dst: &mut D) -> Result<()> {
        let p = self.plan_dtod(src, dst)?;
        // SAFETY: as in `copy_htod`.
        unsafe { self.enqueue(&p)? };
        self.synchronize()
    }

    fn start<S, D>(
        &self,
        p: Result<CopyPlan>,
        src: S,
        dst: D,
    ) -> Result<PendingCopy<S, D>, Rejected<(S, D), CudaError>> {
        let p = match p {
            Ok(p) => p,
            Err(e) => return Err(Rejected::new(e, (src, dst))),
        };
        let start = match self.record_event(true) {
            Ok(e) => e,
            Err(e) => return Err(Rejected::new(e, (src, dst))),
        };
        // SAFETY: `src` and `dst` are StableBytes owned by the PendingCopy
        // built below (their bytes do not move with them, nobody else can
        // touch them), and it does not release them before the copy has
        // completed (end event or stream synchronisation).
        if let Err(e) = unsafe { self.enqueue(&p) } {
            return Err(Rejected::new(e, (src, dst)));
        }
        // Without an end event, completion is checked on the whole stream.
        let end = self.record_event(true).ok();
        Ok(PendingCopy {
            parts: Some((src, dst)),
            stream: self.clone(),
            start,
            end,
            plan: p,
        })
    }

    /// Queue a copy of host `src` into device `dst` on this stream and return
    /// at once; the buffers stay owned by the [`PendingCopy`] until it has
    /// completed. On error nothing was queued and both come back.
    ///
    /// The host side must be page-locked (a [`PinnedBuffer`](crate::PinnedBuffer),
    /// a [`Registered`](crate::Registered) buffer or managed memory): the driver
    /// copies pageable memory synchronously, so an "asynchronous" upload from
    /// it would block and overlap nothing. Pageable memory is refused with
    /// [`CudaError::Pageable`]; register it in place, or use the synchronous
    /// [`copy_htod`](Self::copy_htod).
    pub fn upload<S, D>(&self, src: S, dst: D) -> Result<PendingCopy<S, D>, Rejected<(S, D), CudaError>>
    where
        S: HostBuffer + StableBytes,
        D: DeviceMemory + StableBytes,
    {
        let p = self
            .plan_htod(&src, &dst)
            .and_then(|p| page_locked("upload source", &src).map(|()| p));
        self.start(p, src, dst)
    }

    /// Queue a copy of device `src` into host `dst`; see [`upload`](Self::upload)
    /// (the host side must be page-locked here too).
    pub fn download<S, D>(&self, src: S, mut dst: D) -> Result<PendingCopy<S, D>, Rejected<(S, D), CudaError>>
    where
        S: DeviceMemory + StableBytes,
        D: HostBufferMut + StableBytes,
    {
        let p = self
            .plan_dtoh(&src, &mut dst)
            .and_then(|p| page_locked("download destination", &dst).map(|()| p));
        self.start(p, src, dst)
    }

    /// Queue a device-to-device copy; see [`upload`](Self::upload).
    pub fn copy_device<S, D>(&self, src: S, dst: D) -> Result<PendingCopy<S, D>, Rejected<(S, D), CudaError>>
    where
        S: DeviceMemory + StableBytes,
        D: DeviceMemory + StableBytes,
    {
        let p = self.plan_dtod(&src, &dst);
        self.start(p, src, dst)
    }
}

/// A queued asynchronous copy that owns its source and destination until
/// it has completed. [`wait`](Self::wait) hands them back; dropping it
/// waits too (so the buffers are never freed under a running DMA).
pub struct PendingCopy<S, D> {
    parts: Option<(S, D)>,
    stream: Stream,
    start: Event,
    end: Option<Event>,
    plan: CopyPlan,
}

impl<S, D> fmt::Debug for PendingCopy<S, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingCopy").field("plan", &self.plan).finish()
    }
}

/// A finished copy: the buffers back, and how long the GPU took.
#[derive(Debug)]
pub struct Completed<S, D> {
    /// The source.
    pub src: S,
    /// The destination, now holding the bytes.
    pub dst: D,
    /// Bytes moved.
    pub bytes: usize,
    /// GPU time between the events around the copy (`None` when the end
    /// event could not be recorded and completion was taken from the stream).
    pub elapsed: Option<Duration>,
}

impl<S, D> Completed<S, D> {
    /// Bytes per second of the copy, when it was timed.
    pub fn bandwidth(&self) -> Option<f64> {
        let s = self.elapsed?.as_secs_f64();
        (s > 0.0).then(|| self.bytes as f64 / s)
    }
}

impl<S, D> PendingCopy<S, D> {
    /// What was queued.
    pub fn plan(&self) -> CopyPlan {
        self.plan
    }

    /// True once the copy has finished (does not block).
    ///
    /// When the end event could not be recorded (a driver failure after the
    /// copy was queued) completion cannot be polled: that is an error
    /// (`DriverUnusable` naming `cuEventRecord`) rather than a `false` that
    /// would never turn `true`; [`wait`](Self::wait) still works (it waits
    /// on the stream).
    pub fn is_complete(&self) -> Result<bool> {
        match &self.end {
            Some(e) => e.is_complete(),
            None => Err(CudaError::DriverUnusable {
                call: "cuEventRecord",
                message: "the copy's end event was not recorded; poll with wait() instead".to_owned(),
            }),
        }
    }

    /// The event recorded after the copy, for other streams to wait on.
    pub fn end_event(&self) -> Option<&Event> {
        self.end.as_ref()
    }

    fn block(&self) -> Result<()> {
        match &self.end {
            Some(e) => e.synchronize(),
            None => self.stream.synchronize(),
        }
    }

    /// Wait for the copy and take the buffers back with its GPU time.
    ///
    /// If the driver cannot confirm completion (a dead context), the
    /// buffers are leaked rather than released under a possibly running
    /// DMA, and the error is returned.
    pub fn wait(mut self) -> Result<Completed<S, D>> {
        self.block()?;
        let elapsed = match &self.end {
            Some(end) => self.start.elapsed(end).ok(),
            None => None,
        };
        match self.parts.take() {
            Some((src, dst)) => Ok(Completed {
                src,
                dst,
                bytes: self.plan.bytes,
                elapsed,
            }),
            // ok: `parts` is Some from construction until this method, which
            // consumes self; reported as an error rather than a panic.
            None => Err(CudaError::DriverUnusable {
                call: "PendingCopy::wait",
                message: "buffers already taken".to_string(),
            }),
        }
    }
}

impl<S, D> Drop for PendingCopy<S, D> {
    fn drop(&mut self) {
        if let Some(parts) = self.parts.take() {
            if self.block().is_ok() {
                drop(parts);
            } else {
                // Cannot confirm the DMA finished: leak rather than free.
                std::mem::forget(parts);
            }
        }
    }
}
