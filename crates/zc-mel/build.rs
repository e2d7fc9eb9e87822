//! Build script: enables the AVX-512 kernel level when the compiler has
//! the intrinsics. The workspace's minimum Rust is 1.88, but the AVX-512
//! intrinsics and the `avx512*` target features were stabilised in Rust
//! 1.89; the probe asks for one the kernels use (`_mm512_mask_blend_ps`), so
//! an older compiler (or a 1.89 nightly from before the stabilisation, or a
//! non-x86 target) builds the crate without the level and runtime dispatch
//! picks AVX2 instead.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(zc_mel_avx512)");
    println!("cargo::rerun-if-changed=build.rs");
    if autocfg::new().probe_path("std::arch::x86_64::_mm512_mask_blend_ps") {
        autocfg::emit("zc_mel_avx512");
    }
}
