//! Replays the store fuzz targets' committed corpora and every crash input
//! they found (`fuzz/corpus/<target>`, `fuzz/regressions/<target>`) under
//! plain `cargo test`, so CI checks them without a fuzzer.

#[path = "../../../fuzz/harness/hvstore_open.rs"]
mod hvstore_open;
#[path = "../../../fuzz/harness/item_memory_open.rs"]
mod item_memory_open;

use std::path::{Path, PathBuf};

fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
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
    assert!(corpus.len() >= 4, "the {target} seed corpus is committed");
    for path in corpus.iter().chain(&inputs("regressions", target)) {
        let data = std::fs::read(path).unwrap();
        if let Err(e) = std::panic::catch_unwind(|| run(&data)) {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()));
            panic!("{}: {msg:?}", path.display());
        }
    }
}

#[test]
fn hvstore_open_corpus_and_regressions_replay() {
    replay("hvstore_open", hvstore_open::run);
}

#[test]
fn item_memory_open_corpus_and_regressions_replay() {
    replay("item_memory_open", item_memory_open::run);
}
