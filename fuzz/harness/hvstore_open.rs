//! Fuzz body for `HvStore::open`: any file bytes give a typed error or a store
//! whose every vector can be read, searched and verified; never a panic, an
//! abort or UB. A store that opens verified must pass `verify()`, and one that
//! opens for writing must take an append and reopen with it. Shared by
//! `fuzz/fuzz_targets/hvstore_open.rs` and
//! `crates/zc-hv16/tests/fuzz_replay.rs`.

use std::path::PathBuf;

use zc_hv16::search::Hit;
use zc_hv16::{HV16, HvStore, OpenOptions};

/// A scratch directory of this process and thread (fuzzers and test runners
/// run inputs in parallel).
fn scratch() -> Option<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "zc-hv16-fuzz-store-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}

/// Reads every vector and runs a search over them.
fn exercise(store: &HvStore) {
    let vs = store.vectors();
    assert_eq!(vs.len(), store.len(), "vectors() covers the count");
    let mut acc = HV16::zero();
    for (i, v) in vs.iter().enumerate() {
        acc.bind_assign(v);
        assert_eq!(store.get(i), Some(v));
    }
    assert!(store.get(vs.len()).is_none());
    std::hint::black_box(acc);
    let mut hits = [Hit::default(); 3];
    let k = vs.len().min(hits.len());
    let query = vs.first().copied().unwrap_or_else(HV16::zero);
    match zc_hv16::search::top_k_into(vs, &query, &mut hits[..k]) {
        Ok(()) => assert_eq!(hits[0].distance, 0, "the first vector finds itself"),
        Err(_) => assert!(vs.is_empty(), "top-k fails only on an empty store"),
    }
}

pub fn run(data: &[u8]) {
    let Some(dir) = scratch() else { return };
    let path = dir.join("store.hv16");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let verified = HvStore::open(&path);
    if let Ok(store) = &verified {
        exercise(store);
        store.verify().expect("a store that opened verified verifies");
    }
    // without the data pass: opens whenever the header is sound
    if let Ok(store) = OpenOptions::new().verify(false).open(&path) {
        exercise(&store);
        assert_eq!(
            store.verify().is_ok(),
            verified.is_ok(),
            "verify() agrees with verified open"
        );
    } else {
        assert!(verified.is_err(), "a verified open implies an unverified one");
    }
    // writable: a verified store takes one more vector and reopens with it
    if let Ok(mut rw) = HvStore::open_rw(&path) {
        assert!(verified.is_ok(), "open_rw verifies like open");
        rw.set_durable(false);
        let n = rw.len();
        let extra = HV16::random(n as u64);
        assert_eq!(rw.push(&extra).expect("append to a sound store"), n);
        drop(rw);
        let again = HvStore::open(&path).expect("reopen after an append");
        assert_eq!(again.len(), n + 1);
        assert_eq!(again.get(n), Some(&extra));
        exercise(&again);
    }
    let _ = std::fs::remove_file(&path);
}
