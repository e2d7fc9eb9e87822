//! Fuzz `HvStore::open` (and reading what it yields) on arbitrary file bytes:
//! every input must give a typed error or a store whose vectors can be read,
//! never a panic, a crash or UB.
//!
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run open_store -- -max_total_time=60`
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("zc-hv16-fuzz-{}", std::process::id()));
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let path = dir.join("store.hv16");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    if let Ok(store) = zc_hv16::HvStore::open(&path) {
        let vs = store.vectors();
        // touch every vector: the count must match what is really mapped
        let mut acc = zc_hv16::HV16::zero();
        for v in vs {
            acc.bind_assign(v);
        }
        std::hint::black_box(acc);
        let _ = store.verify();
    }
});
