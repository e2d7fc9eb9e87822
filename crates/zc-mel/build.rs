//! Build script: enables the AVX-512 kernel level when the compiler is new enough.
//!
//! The workspace's minimum Rust is 1.88, but the AVX-512 intrinsics and the
//! `avx512*` target features were stabilised in Rust 1.89. On an older
//! compiler the crate still builds; the AVX-512 level is simply unavailable
//! and runtime dispatch picks AVX2 instead.

use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(zc_mel_avx512)");
    println!("cargo::rerun-if-changed=build.rs");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let minor = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|v| {
            // "rustc 1.95.0 (...)"
            let ver = v.split_whitespace().nth(1)?.to_string();
            let mut parts = ver.split('.');
            let major: u32 = parts.next()?.parse().ok()?;
            let minor: u32 = parts.next()?.parse().ok()?;
            Some((major, minor))
        });
    if let Some((major, minor)) = minor
        && (major > 1 || minor >= 89)
    {
        println!("cargo::rustc-cfg=zc_mel_avx512");
    }
}
