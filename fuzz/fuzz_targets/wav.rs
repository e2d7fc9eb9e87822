//! `cargo +nightly fuzz run wav fuzz/corpus/wav`
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness/wav.rs"]
mod harness;

fuzz_target!(|data: &[u8]| harness::run(data));
