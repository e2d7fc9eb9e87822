//! Replays the committed corpora and every crash input of the WAV and mel
//! fuzz targets (`fuzz/corpus/<target>`, `fuzz/regressions/<target>`) under
//! plain `cargo test`, so CI checks them without a fuzzer.

#[path = "../../../fuzz/harness/wav.rs"]
mod wav_harness;

#[path = "../../../fuzz/harness/mel_compute.rs"]
mod mel_harness;

#[path = "../../../fuzz/harness/replay.rs"]
mod replay;

#[test]
fn wav_corpus_and_regressions_replay() {
    replay::replay("wav", 5, wav_harness::run);
}

#[test]
fn mel_compute_corpus_and_regressions_replay() {
    replay::replay("mel_compute", 5, mel_harness::run);
}
