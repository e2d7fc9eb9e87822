//! Criterion benches for zc-buffers (filled in below).
fn main() {}
