//! `cargo +nightly fuzz run npz fuzz/corpus/npz`
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness/npz.rs"]
mod harness;

fuzz_target!(|data: &[u8]| harness::run(data));
