//! `cargo +nightly fuzz run item_memory_open fuzz/corpus/item_memory_open`
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness/item_memory_open.rs"]
mod harness;

fuzz_target!(|data: &[u8]| harness::run(data));
