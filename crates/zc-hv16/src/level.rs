//! Encoding quantised scalars as level hypervectors.

use crate::error::{HvError, Result};
use crate::hv::HV16;

/// Maps a scalar range `[lo, hi]` onto `n_levels` level hypervectors
/// ([`HV16::level`]`(i, n_levels, seed)`), built once at construction. Nearby
/// values get similar vectors; `lo` and `hi` get vectors 1024 bits apart.
///
/// Values outside the range are clamped to it; NaN is an error
/// ([`HvError::NotANumber`]). ±∞ clamp like any other out-of-range value.
#[derive(Clone, Debug)]
pub struct LevelEncoder {
    lo: f64,
    hi: f64,
    levels: Vec<HV16>,
}

impl LevelEncoder {
    /// Builds the table of `n_levels` (≥ 2) vectors for `[lo, hi]` (finite, `lo < hi`).
    pub fn new(n_levels: usize, lo: f64, hi: f64, seed: u64) -> Result<Self> {
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(HvError::InvalidRange { lo, hi });
        }
        if n_levels < 2 {
            return Err(HvError::LevelOutOfRange { index: 0, n_levels });
        }
        let mut levels = Vec::new();
        levels
            .try_reserve_exact(n_levels)
            .map_err(|_| crate::error::alloc_err::<HV16>(n_levels))?;
        for i in 0..n_levels {
            levels.push(HV16::level(i, n_levels, seed)?);
        }
        Ok(LevelEncoder { lo, hi, levels })
    }

    /// Number of levels.
    pub fn n_levels(&self) -> usize {
        self.levels.len()
    }

    /// The level vectors, level 0 first.
    pub fn levels(&self) -> &[HV16] {
        &self.levels
    }

    /// The level index of `x`: `round((clamp(x) - lo) / (hi - lo) * (n_levels - 1))`.
    pub fn index(&self, x: f64) -> Result<usize> {
        if x.is_nan() {
            return Err(HvError::NotANumber);
        }
        let t = ((x.clamp(self.lo, self.hi) - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0);
        let top = self.levels.len() - 1;
        Ok(((t * top as f64).round() as usize).min(top))
    }

    /// The vector of `x` (borrowed from the table; no copy, no allocation).
    pub fn encode(&self, x: f64) -> Result<&HV16> {
        let i = self.index(x)?;
        self.levels.get(i).ok_or(HvError::LevelOutOfRange {
            index: i,
            n_levels: self.levels.len(),
        })
    }
}
