//! The sample types the engines run on (`f32`, `f64`).

use num_traits::Float;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point sample type: `f32` or `f64`.
pub trait Sample:
    Float + realfft::FftNum + Default + zc_buffers::bytemuck::Pod + Send + Sync + std::fmt::Debug + sealed::Sealed + 'static
{
    /// Convert from `f64` (rounding for `f32`).
    fn of_f64(v: f64) -> Self;
    /// Convert to `f64` (exact).
    fn as_f64(self) -> f64;
}

impl Sample for f32 {
    #[inline(always)]
    fn of_f64(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn as_f64(self) -> f64 {
        f64::from(self)
    }
}

impl Sample for f64 {
    #[inline(always)]
    fn of_f64(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn as_f64(self) -> f64 {
        self
    }
}
