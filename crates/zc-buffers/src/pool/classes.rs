//! Size classes and the statistics a pool reports.

use crate::error::{BufferError, Result};

/// How requests are rounded to the sizes the pool keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SizeClasses {
    /// Geometric classes: every power of two from `min` up, split into
    /// `steps` equal sub-steps (4 steps wastes at most 25%: a 960 000-byte
    /// request lands in a 1 048 576-byte class, 9.6 MB in 10 485 760).
    Geometric {
        /// Smallest class in bytes (rounded up to a power of two).
        min: usize,
        /// Sub-steps per doubling (1 = pure powers of two).
        steps: usize,
    },
    /// Exactly these sizes (a request takes the smallest that fits; larger
    /// requests are refused). Use when the sizes are known up front.
    Exact(Vec<usize>),
}

impl Default for SizeClasses {
    fn default() -> Self {
        SizeClasses::Geometric { min: 4096, steps: 4 }
    }
}

impl SizeClasses {
    /// The class sizes for a pool with this cap and alignment, ascending.
    pub(super) fn sizes(&self, cap: usize, align: usize) -> Result<Vec<usize>> {
        let round = |s: usize| s.div_ceil(align).saturating_mul(align);
        let mut v: Vec<usize> = match self {
            SizeClasses::Exact(sizes) => sizes.iter().map(|&s| round(s.max(1))).collect(),
            SizeClasses::Geometric { min, steps } => {
                let steps = (*steps).clamp(1, 64);
                let mut out = Vec::new();
                let mut base = (*min.max(&1))
                    .checked_next_power_of_two()
                    .ok_or(BufferError::TooLarge { len: *min, align })?;
                loop {
                    for k in 0..steps {
                        let s = base.saturating_add(base / steps * k);
                        out.push(round(s));
                    }
                    if base >= cap || base > usize::MAX / 4 {
                        break;
                    }
                    base *= 2;
                }
                out
            }
        };
        v.sort_unstable();
        v.dedup();
        Ok(v)
    }
}

/// Pool statistics (a consistent-enough snapshot; counters are relaxed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Acquires served from an idle buffer.
    pub hits: u64,
    /// Acquires that allocated.
    pub misses: u64,
    /// Idle buffers freed to make room for another class, or by `trim`.
    pub evictions: u64,
    /// Acquires that gave up (cap reached, timed out).
    pub exhausted: u64,
    /// Guards currently alive.
    pub in_use: usize,
    /// Capacity bytes of the buffers currently handed out.
    pub in_use_bytes: usize,
    /// The most bytes the pool has held from the allocator at once (idle +
    /// in use). Without evictions this is the sum over size classes of the
    /// most buffers of that class ever in use at once: the footprint the
    /// workload needed. Updated only on misses, so the hit path stays free
    /// of shared counters.
    pub high_water_bytes: usize,
    /// Capacity bytes of idle buffers kept for reuse.
    pub idle_bytes: usize,
    /// `in_use_bytes + idle_bytes`: what the pool holds from the allocator.
    pub held_bytes: usize,
    /// The byte cap.
    pub cap_bytes: usize,
}
