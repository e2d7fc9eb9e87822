//! x86-64 kernels, one file per [`SimdLevel`](zc_buffers::SimdLevel).

pub(crate) mod avx2;
pub(crate) mod avx512;
