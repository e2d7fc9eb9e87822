//! Replays the NPZ fuzz target's committed corpus and every crash input it
//! found (`fuzz/corpus/npz`, `fuzz/regressions/npz`) under plain
//! `cargo test`, so CI checks them without a fuzzer.

#[path = "../../../fuzz/harness/npz.rs"]
mod harness;

fn inputs(dir: &str) -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(dir);
    if !dir.exists() && dir.ends_with("npz") && dir.parent().is_some_and(|p| p.ends_with("regressions")) {
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

#[test]
fn npz_corpus_and_regressions_replay() {
    let corpus = inputs("corpus/npz");
    assert!(corpus.len() >= 5, "the seed corpus is committed");
    for path in corpus.iter().chain(&inputs("regressions/npz")) {
        let data = std::fs::read(path).unwrap();
        if let Err(e) = std::panic::catch_unwind(|| harness::run(&data)) {
            panic!("{}: {:?}", path.display(), e.downcast_ref::<String>());
        }
    }
}
