//! Replays one fuzz target's committed corpus and crash inputs
//! (`fuzz/corpus/<target>`, `fuzz/regressions/<target>`) through its
//! harness, under plain `cargo test`; included by each crate's
//! `tests/fuzz_replay.rs`.

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

/// Run `run` on every corpus and regression input of `target` (the corpus
/// must hold at least `min_seeds` files), naming the input that panics.
pub fn replay(target: &str, min_seeds: usize, run: fn(&[u8])) {
    let corpus = inputs("corpus", target);
    assert!(corpus.len() >= min_seeds, "the {target} seed corpus is committed");
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
