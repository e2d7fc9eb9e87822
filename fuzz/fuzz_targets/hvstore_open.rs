//! `cargo +nightly fuzz run hvstore_open fuzz/corpus/hvstore_open`
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness/hvstore_open.rs"]
mod harness;

fuzz_target!(|data: &[u8]| harness::run(data));
