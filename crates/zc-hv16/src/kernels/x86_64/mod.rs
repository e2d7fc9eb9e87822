//! x86-64 kernels, one file per instruction set. Every function carries its
//! `#[target_feature]`; callers reach them only through a [`crate::Hamming`]
//! whose level was checked available at construction.

pub(crate) mod avx2;
pub(crate) mod avx512;
pub(crate) mod popcnt;

/// The per-query and tiled loops around a pair kernel `$dist`, compiled with
/// `$feat` so that `$dist` inlines into them.
macro_rules! loops {
    ($feat:literal, $dist:ident) => {
        /// `out[i] = dist(q, db[i])` for `i < min(out.len(), db.len())`.
        #[target_feature(enable = $feat)]
        pub(crate) fn distances(q: &HV16, db: &[HV16], out: &mut [u32]) {
            for (o, v) in out.iter_mut().zip(db) {
                *o = $dist(q, v);
            }
        }

        /// `out[i * stride + offset + q] = dist(qs[q], db[i])` for every row that is long enough.
        #[target_feature(enable = $feat)]
        pub(crate) fn tile<const Q: usize>(qs: &[HV16; Q], db: &[HV16], out: &mut [u32], stride: usize, offset: usize) {
            for (v, row) in db.iter().zip(out.chunks_mut(stride)) {
                if let Some(dst) = row.get_mut(offset..offset + Q) {
                    for (o, q) in dst.iter_mut().zip(qs) {
                        *o = $dist(q, v);
                    }
                }
            }
        }
    };
}
pub(crate) use loops;
