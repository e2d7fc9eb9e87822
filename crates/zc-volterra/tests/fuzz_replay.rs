//! Replays the NPZ fuzz target's committed corpus and every crash input it
//! found (`fuzz/corpus/npz`, `fuzz/regressions/npz`) under plain
//! `cargo test`, so CI checks them without a fuzzer.

#[path = "../../../fuzz/harness/npz.rs"]
mod harness;

#[path = "../../../fuzz/harness/replay.rs"]
mod replay;

#[test]
fn npz_corpus_and_regressions_replay() {
    replay::replay("npz", 5, harness::run);
}
