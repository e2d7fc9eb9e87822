//! x86-64 kernels, one file per instruction set. Every function carries its
//! `#[target_feature]`; callers reach them only through a [`crate::Hamming`]
//! whose level was checked available at construction.

pub(crate) mod avx2;
pub(crate) mod avx512;
pub(crate) mod popcnt;

/// The per-query loop around a pair kernel `$dist`, compiled with `$feat` so
/// that `$dist` inlines into it.
macro_rules! loops {
    ($feat:literal, $dist:ident) => {
        /// `out[i] = dist(q, db[i])` for `i < min(out.len(), db.len())`.
        #[target_feature(enable = $feat)]
        pub(crate) fn distances(q: &HV16, db: &[HV16], out: &mut [u32]) {
            for (o, v) in out.iter_mut().zip(db) {
                *o = $dist(q, v);
            }
        }
    };
}
pub(crate) use loops;
