//! Pools of buffer objects: the zc-buffers [`Pool`] over a BO backend, one
//! pool per (memory group, flags).

use std::sync::{Mutex, PoisonError};

use zc_buffers::{HostBufferMut, PAGE_ALIGN, Pool, PoolBackend, PoolBuilder, Pooled};

use crate::buffer::NpuBuffer;
use crate::device::NpuDevice;
use crate::error::Result;
use crate::flags::{BoFlags, MemoryGroup};

/// A [`PoolBackend`] that allocates buffer objects of one kind in one memory
/// group on one device. BOs from different groups are not interchangeable
/// (a kernel argument needs its own group), so a pool serves one group.
#[derive(Clone, Debug)]
pub struct BoBackend {
    device: NpuDevice,
    flags: BoFlags,
    group: MemoryGroup,
}

impl BoBackend {
    /// A backend for `flags` BOs in `group`; the flags are validated here
    /// ([`crate::NpuError::UnsupportedFlags`]).
    pub fn new(device: &NpuDevice, flags: BoFlags, group: MemoryGroup) -> Result<Self> {
        Ok(Self {
            device: device.clone(),
            flags: flags.validate()?,
            group,
        })
    }

    /// A backend for host-only (data) BOs in `group`.
    pub fn host_only(device: &NpuDevice, group: MemoryGroup) -> Self {
        Self {
            device: device.clone(),
            flags: BoFlags::HOST_ONLY,
            group,
        }
    }

    /// The device.
    pub fn device(&self) -> &NpuDevice {
        &self.device
    }

    /// The flags of every BO.
    pub fn flags(&self) -> BoFlags {
        self.flags
    }

    /// The memory group of every BO.
    pub fn group(&self) -> MemoryGroup {
        self.group
    }
}

impl PoolBackend for BoBackend {
    type Buf = NpuBuffer;

    /// `xrtBOAlloc` + `xrtBOMap` of `capacity` bytes, zeroed through the
    /// mapping (so the pool's "initialised and zeroed" contract holds
    /// whatever the driver hands out).
    fn allocate(&self, capacity: usize) -> zc_buffers::Result<NpuBuffer> {
        let mut bo = NpuBuffer::alloc_with(&self.device, capacity, self.flags, self.group)?;
        bo.as_bytes_mut().fill(0);
        Ok(bo)
    }

    /// Zero the first `len` bytes of the host mapping (used by
    /// `zero_on_release`). The device side sees the zeros after the next
    /// holder's `sync(ToDevice, ..)`.
    fn zero(&self, buf: &mut NpuBuffer, len: usize) -> zc_buffers::Result<()> {
        let bytes = buf.as_bytes_mut();
        let n = len.min(bytes.len());
        bytes[..n].fill(0); // ok: n <= bytes.len()
        Ok(())
    }

    fn align(&self) -> usize {
        PAGE_ALIGN
    }
}

/// A pool of buffer objects: the zc-buffers [`Pool`] (size classes, byte
/// cap, RAII guards, waits, statistics) over a [`BoBackend`].
pub type NpuPool = Pool<BoBackend>;

/// A buffer object on loan from an [`NpuPool`]; returns to it on drop.
pub type PooledBo = Pooled<BoBackend>;

impl NpuDevice {
    /// A builder for a pool of host-only BOs in memory `group` on this
    /// device, named `npu{index}-group{group}`; configure it like any
    /// [`PoolBuilder`] (`name`, `cap_bytes`, `size_classes`,
    /// `zero_on_release`, `wait`, `prefill`) and `build()`. The CUDA crate
    /// builds its pools the same way (`CudaDevice::pool_builder`).
    pub fn pool_builder(&self, group: MemoryGroup) -> PoolBuilder<BoBackend> {
        PoolBuilder::with_backend(BoBackend::host_only(self, group)).name(format!("npu{}-group{}", self.index(), group))
    }
}

/// One [`NpuPool`] per (memory group, flags) on a device, created on first
/// use with the same settings: the way to pool the BOs of a kernel whose
/// arguments live in different groups.
#[derive(Debug)]
pub struct NpuPools {
    device: NpuDevice,
    cap_bytes: usize,
    zero_on_release: bool,
    pools: Mutex<Vec<((MemoryGroup, BoFlags), NpuPool)>>,
}

impl NpuPools {
    /// Pools on `device` with a 256 MiB cap each and no zeroing.
    pub fn new(device: &NpuDevice) -> Self {
        Self {
            device: device.clone(),
            cap_bytes: 256 << 20,
            zero_on_release: false,
            pools: Mutex::new(Vec::new()),
        }
    }

    /// The byte cap of each pool (applies to pools created afterwards).
    pub fn cap_bytes(mut self, cap: usize) -> Self {
        self.cap_bytes = cap;
        self
    }

    /// Zero returned buffers (applies to pools created afterwards).
    pub fn zero_on_release(mut self, on: bool) -> Self {
        self.zero_on_release = on;
        self
    }

    /// The pool for `flags` BOs in `group`, created on first use.
    pub fn pool(&self, group: MemoryGroup, flags: BoFlags) -> Result<NpuPool> {
        let mut pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, p)) = pools.iter().find(|(k, _)| *k == (group, flags)) {
            return Ok(p.clone());
        }
        let backend = BoBackend::new(&self.device, flags, group)?;
        let pool = PoolBuilder::with_backend(backend)
            .name(format!("npu{}-group{}-{:?}", self.device.index(), group, flags))
            .cap_bytes(self.cap_bytes)
            .zero_on_release(self.zero_on_release)
            .build()?;
        pools.push(((group, flags), pool.clone()));
        Ok(pool)
    }

    /// Acquire a host-only BO of `len` bytes from `group`'s pool.
    pub fn acquire(&self, group: MemoryGroup, len: usize) -> Result<PooledBo> {
        Ok(self.pool(group, BoFlags::HOST_ONLY)?.acquire(len)?)
    }

    /// Acquire a BO of `len` bytes with `flags` from `group`'s pool.
    pub fn acquire_with(&self, group: MemoryGroup, flags: BoFlags, len: usize) -> Result<PooledBo> {
        Ok(self.pool(group, flags)?.acquire(len)?)
    }

    /// Free every idle BO in every pool; returns the bytes released.
    pub fn trim(&self) -> usize {
        let pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
        pools.iter().map(|(_, p)| p.trim()).sum()
    }
}
