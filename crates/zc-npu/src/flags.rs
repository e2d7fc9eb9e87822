//! Buffer-object flags (`xrtBufferFlags`) and which of them XDNA accepts.

use std::fmt;

use crate::error::{NpuError, Result};

/// `xrtBufferFlags`: the BO kind bits of XRT's `xrt_mem.h` (bits 24..31).
///
/// On an XDNA NPU two kinds are useful and accepted:
/// [`BoFlags::HOST_ONLY`] (the default, for data tensors) and
/// [`BoFlags::CACHEABLE`] (instruction buffers). Everything else is refused
/// by [`BoFlags::validate`] before XRT is called: device-only and
/// peer-to-peer BOs are rejected by the XDNA driver, and the remaining kinds
/// (SVM, scatter-gather, kernel buffers, exec buffers, bank bits) are not
/// part of this crate's buffer layer.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct BoFlags(u64);

impl BoFlags {
    /// `XCL_BO_FLAGS_NONE` ("normal" BO: host and device side).
    pub const NONE: BoFlags = BoFlags(0);
    /// `XCL_BO_FLAGS_CACHEABLE` (`1 << 24`): host-cached; XDNA instruction buffers.
    pub const CACHEABLE: BoFlags = BoFlags(1 << 24);
    /// `XCL_BO_FLAGS_KERNBUF` (`1 << 25`).
    pub const KERNBUF: BoFlags = BoFlags(1 << 25);
    /// `XCL_BO_FLAGS_SGL` (`1 << 26`).
    pub const SGL: BoFlags = BoFlags(1 << 26);
    /// `XCL_BO_FLAGS_SVM` (`1 << 27`).
    pub const SVM: BoFlags = BoFlags(1 << 27);
    /// `XCL_BO_FLAGS_DEV_ONLY` (`1 << 28`): rejected by XDNA.
    pub const DEVICE_ONLY: BoFlags = BoFlags(1 << 28);
    /// `XCL_BO_FLAGS_HOST_ONLY` (`1 << 29`): host memory the NPU reads and
    /// writes; the default for data.
    pub const HOST_ONLY: BoFlags = BoFlags(1 << 29);
    /// `XCL_BO_FLAGS_P2P` (`1 << 30`): rejected by XDNA.
    pub const P2P: BoFlags = BoFlags(1 << 30);
    /// `XCL_BO_FLAGS_EXECBUF` (`1 << 31`).
    pub const EXECBUF: BoFlags = BoFlags(1 << 31);

    /// Flags from raw bits (not validated; see [`BoFlags::validate`]).
    pub const fn from_bits(bits: u64) -> Self {
        BoFlags(bits)
    }

    /// The raw bits passed to XRT.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// True when every bit of `other` is set in `self`.
    pub const fn contains(self, other: BoFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Check that XDNA accepts these flags: exactly [`BoFlags::HOST_ONLY`]
    /// or [`BoFlags::CACHEABLE`]. Returns
    /// [`NpuError::UnsupportedFlags`] with the reason otherwise.
    pub fn validate(self) -> Result<Self> {
        let reason = if self == BoFlags::HOST_ONLY || self == BoFlags::CACHEABLE {
            return Ok(self);
        } else if self.contains(BoFlags::DEVICE_ONLY) {
            "device-only buffer objects are rejected by the XDNA driver (the NPU has no device memory); use HOST_ONLY"
        } else if self.contains(BoFlags::P2P) {
            "peer-to-peer buffer objects are rejected by the XDNA driver; use HOST_ONLY"
        } else if self.0 & 0x00FF_FFFF != 0 {
            "bank/memory-index bits are set in the flags; pass the memory group as the `group` argument instead"
        } else if self.0 >> 32 != 0 {
            "bits above 31 are not buffer-object flags"
        } else if self == BoFlags::NONE {
            "no buffer kind given; use HOST_ONLY for data or CACHEABLE for instruction buffers"
        } else {
            "only HOST_ONLY (data) or CACHEABLE (instruction buffers), alone, are supported on XDNA"
        };
        Err(NpuError::UnsupportedFlags { flags: self.0, reason })
    }
}

impl Default for BoFlags {
    /// [`BoFlags::HOST_ONLY`].
    fn default() -> Self {
        BoFlags::HOST_ONLY
    }
}

impl std::ops::BitOr for BoFlags {
    type Output = BoFlags;
    fn bitor(self, rhs: BoFlags) -> BoFlags {
        BoFlags(self.0 | rhs.0)
    }
}

impl fmt::Debug for BoFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(BoFlags, &str); 8] = [
            (BoFlags::CACHEABLE, "CACHEABLE"),
            (BoFlags::KERNBUF, "KERNBUF"),
            (BoFlags::SGL, "SGL"),
            (BoFlags::SVM, "SVM"),
            (BoFlags::DEVICE_ONLY, "DEVICE_ONLY"),
            (BoFlags::HOST_ONLY, "HOST_ONLY"),
            (BoFlags::P2P, "P2P"),
            (BoFlags::EXECBUF, "EXECBUF"),
        ];
        let mut rest = self.0;
        let mut parts = Vec::new();
        for (flag, name) in NAMES {
            if self.contains(flag) {
                parts.push(name.to_string());
                rest &= !flag.0;
            }
        }
        if rest != 0 || parts.is_empty() {
            parts.push(format!("{rest:#x}"));
        }
        write!(f, "BoFlags({})", parts.join(" | "))
    }
}

/// The memory group (`xrtMemoryGroup`) a BO is allocated in: the value a
/// kernel's `group_id(arg)` reports for the argument the BO is bound to.
/// Group 0 when no kernel is involved.
pub type MemoryGroup = u32;
