//! Replays the store fuzz targets' committed corpora and every crash input
//! they found (`fuzz/corpus/<target>`, `fuzz/regressions/<target>`) under
//! plain `cargo test`, so CI checks them without a fuzzer.

#[path = "../../../fuzz/harness/hvstore_open.rs"]
mod hvstore_open;
#[path = "../../../fuzz/harness/item_memory_open.rs"]
mod item_memory_open;
#[path = "../../../fuzz/harness/replay.rs"]
mod replay;

#[test]
fn hvstore_open_corpus_and_regressions_replay() {
    replay::replay("hvstore_open", 4, hvstore_open::run);
}

#[test]
fn item_memory_open_corpus_and_regressions_replay() {
    replay::replay("item_memory_open", 4, item_memory_open::run);
}
