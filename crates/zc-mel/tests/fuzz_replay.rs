//! Replays the committed corpora and every crash input of the WAV and mel
//! fuzz targets (`fuzz/corpus/<target>`, `fuzz/regressions/<target>`) under
//! plain `cargo test`, so CI checks them without a fuzzer.

#[path = "../../../fuzz/harness/wav.rs"]
mod wav_harness;

#[path = "../../../fuzz/harness/mel_compute.rs"]
mod mel_harness;

fn inputs(kind: &str, target: &str) -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(kind)
        .join(target);
    if kind == "regressions" && !dir.exists() {
        return Vec::new(); // no crash found yet
    }
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

fn replay(target: &str, run: fn(&[u8])) {
    let corpus = inputs("corpus", target);
    assert!(corpus.len() >= 5, "the {target} seed corpus is committed");
    for path in corpus.iter().chain(&inputs("regressions", target)) {
        let data = std::fs::read(path).unwrap();
        if let Err(e) = std::panic::catch_unwind(|| run(&data)) {
            panic!("{}: {:?}", path.display(), e.downcast_ref::<String>());
        }
    }
}

#[test]
fn wav_corpus_and_regressions_replay() {
    replay("wav", wav_harness::run);
}

#[test]
fn mel_compute_corpus_and_regressions_replay() {
    replay("mel_compute", mel_harness::run);
}
