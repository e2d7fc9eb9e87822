//! Build script: enables the AVX-512 kernel level when the compiler is new
//! enough. The workspace's minimum Rust is 1.88, but the AVX-512 intrinsics
//! and the `avx512*` target features were stabilised in Rust 1.89. On an
//! older compiler the crate still builds; the AVX-512 level is simply
//! unavailable and runtime dispatch picks AVX2 instead.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(zc_mel_avx512)");
    println!("cargo::rerun-if-changed=build.rs");
    if autocfg::new().probe_rustc_version(1, 89) {
        autocfg::emit("zc_mel_avx512");
    }
}
