//! `cargo +nightly fuzz run mel_compute fuzz/corpus/mel_compute`
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness/mel_compute.rs"]
mod harness;

fuzz_target!(|data: &[u8]| harness::run(data));
