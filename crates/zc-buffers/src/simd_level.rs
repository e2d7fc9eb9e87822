//! [`SimdLevel`]: the CPU feature levels every crate's kernels are named by,
//! and their run-time detection (once, here, for the whole workspace).

/// A CPU feature tier that a zc kernel can be built for. Every crate with
/// SIMD kernels (zc-mel, zc-hv16, zc-volterra) names its levels with this
/// one type, detects them with [`SimdLevel::is_available`], and lets a caller
/// force one the same way (a `simd(level)` setter on the plan or handle,
/// refused with [`BufferError::SimdUnavailable`](crate::BufferError::SimdUnavailable)
/// when the CPU lacks it).
///
/// Levels are ordered: each one implies the features of every level below
/// it. A crate implements a subset (zc-volterra has no POPCNT kernel, zc-mel
/// no VPOPCNTDQ one) and picks among its own with [`SimdLevel::best_of`].
///
/// The environment variable `ZC_SIMD` (read once per process: `portable`,
/// `popcnt`, `avx2`, `avx512`, `avx512-vpopcnt`) caps what
/// [`SimdLevel::detect`] and [`SimdLevel::best_of`] return, so a whole
/// program can be run on a slower path without code changes (tests, A/B
/// measurements). It never raises the level above what the CPU has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum SimdLevel {
    /// Portable Rust: whatever the compile target guarantees (SSE2 on
    /// x86-64, NEON on aarch64), vectorised by the compiler.
    Portable,
    /// x86-64 with `popcnt` and SSE4.2.
    Popcnt,
    /// x86-64 with AVX2, FMA, BMI2, `popcnt` (x86-64-v3: Haswell, Zen 1 and later).
    Avx2,
    /// x86-64 with AVX-512 F, BW, DQ and VL on top of [`SimdLevel::Avx2`]
    /// (x86-64-v4: Skylake-SP, Zen 4 and later).
    Avx512,
    /// [`SimdLevel::Avx512`] plus `avx512vpopcntdq` (Ice Lake, Zen 4 and later).
    Avx512Vpopcnt,
}

impl SimdLevel {
    /// Every level, lowest first.
    pub const ALL: [SimdLevel; 5] = [
        SimdLevel::Portable,
        SimdLevel::Popcnt,
        SimdLevel::Avx2,
        SimdLevel::Avx512,
        SimdLevel::Avx512Vpopcnt,
    ];

    /// The level's name as `ZC_SIMD` and [`FromStr`](std::str::FromStr) spell it.
    pub const fn name(self) -> &'static str {
        match self {
            SimdLevel::Portable => "portable",
            SimdLevel::Popcnt => "popcnt",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Avx512 => "avx512",
            SimdLevel::Avx512Vpopcnt => "avx512-vpopcnt",
        }
    }

    /// Whether this CPU has every feature of the level. Ignores `ZC_SIMD`:
    /// a level forced explicitly runs when the hardware can run it.
    pub fn is_available(self) -> bool {
        cpu_has(self)
    }

    /// The highest available level, capped by `ZC_SIMD`.
    pub fn detect() -> SimdLevel {
        Self::best_of(&Self::ALL)
    }

    /// The highest level in `levels` that the CPU has and `ZC_SIMD` allows;
    /// [`SimdLevel::Portable`] when none is (every crate has a portable path).
    pub fn best_of(levels: &[SimdLevel]) -> SimdLevel {
        let cap = env_cap();
        levels
            .iter()
            .copied()
            .filter(|&l| l <= cap && l.is_available())
            .max()
            .unwrap_or(SimdLevel::Portable)
    }

    /// Checks that the CPU has the level: `Ok(self)`, or
    /// [`BufferError::SimdUnavailable`](crate::BufferError::SimdUnavailable).
    pub fn require(self) -> crate::Result<SimdLevel> {
        if self.is_available() {
            Ok(self)
        } else {
            Err(crate::BufferError::SimdUnavailable { level: self })
        }
    }
}

impl std::fmt::Display for SimdLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A string that names no [`SimdLevel`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown SIMD level {0:?} (expected one of portable, popcnt, avx2, avx512, avx512-vpopcnt)")]
pub struct UnknownSimdLevel(pub String);

impl std::str::FromStr for SimdLevel {
    type Err = UnknownSimdLevel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL
            .into_iter()
            .find(|l| l.name() == t)
            .ok_or_else(|| UnknownSimdLevel(s.to_owned()))
    }
}

fn env_cap() -> SimdLevel {
    static CAP: std::sync::OnceLock<SimdLevel> = std::sync::OnceLock::new();
    *CAP.get_or_init(|| {
        std::env::var("ZC_SIMD")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(SimdLevel::Avx512Vpopcnt)
    })
}

#[cfg(target_arch = "x86_64")]
fn cpu_has(level: SimdLevel) -> bool {
    use std::arch::is_x86_feature_detected as has;
    match level {
        SimdLevel::Portable => true,
        SimdLevel::Popcnt => has!("popcnt") && has!("sse4.2"),
        SimdLevel::Avx2 => cpu_has(SimdLevel::Popcnt) && has!("avx2") && has!("fma") && has!("bmi2"),
        SimdLevel::Avx512 => {
            cpu_has(SimdLevel::Avx2) && has!("avx512f") && has!("avx512bw") && has!("avx512dq") && has!("avx512vl")
        }
        SimdLevel::Avx512Vpopcnt => cpu_has(SimdLevel::Avx512) && has!("avx512vpopcntdq"),
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn cpu_has(level: SimdLevel) -> bool {
    level == SimdLevel::Portable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_order_is_by_features() {
        for l in SimdLevel::ALL {
            assert_eq!(l.name().parse::<SimdLevel>(), Ok(l));
            assert_eq!(l.to_string(), l.name());
        }
        assert_eq!("AVX512_VPOPCNT".parse::<SimdLevel>(), Ok(SimdLevel::Avx512Vpopcnt));
        assert!("sse9".parse::<SimdLevel>().is_err());
        assert!(SimdLevel::ALL.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn availability_is_monotone_and_detect_is_available() {
        // A level implies every level below it.
        let avail: Vec<bool> = SimdLevel::ALL.iter().map(|l| l.is_available()).collect();
        assert!(avail[0]);
        assert!(avail.windows(2).all(|w| w[0] || !w[1]), "{avail:?}");
        assert!(SimdLevel::detect().is_available());
        assert!(SimdLevel::Portable.require().is_ok());
        for l in SimdLevel::ALL {
            assert_eq!(l.require().is_ok(), l.is_available());
        }
    }

    #[test]
    fn best_of_picks_from_the_subset_only() {
        let subset = [SimdLevel::Portable, SimdLevel::Avx2];
        let b = SimdLevel::best_of(&subset);
        assert!(subset.contains(&b));
        assert_eq!(
            b == SimdLevel::Avx2,
            SimdLevel::Avx2.is_available() && SimdLevel::detect() >= SimdLevel::Avx2
        );
        assert_eq!(SimdLevel::best_of(&[]), SimdLevel::Portable);
    }
}
