//! Fuzz body for `HvStore::open`: any file bytes give a typed error or a store
//! whose every vector can be read, searched and verified; never a panic, an
//! abort or UB. A store that opens verified must pass `verify()`, and one that
//! opens for writing must take an append and reopen with it. Shared by
//! `fuzz/fuzz_targets/hvstore_open.rs` and
//! `crates/zc-hv16/tests/fuzz_replay.rs`.

use std::path::PathBuf;

use zc_hv16::{HV16, Hamming, Hit, HvStore, OpenOptions};

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
    match Hamming::detect().top_k_into_slice(&query, vs, k, &mut hits) {
        Ok(_) => assert_eq!(hits[0].distance, 0, "the first vector finds itself"),
        Err(_) => assert!(vs.is_empty(), "top-k fails only on an empty store"),
    }
}

/// `data` with its header checksum and (version 2, when the count fits the
/// file) its data CRC made right, so the fuzzer also reaches what lies past
/// the checksums: counts, capacities, reserved bytes, appends.
pub fn with_checksums_fixed(data: &[u8]) -> Option<Vec<u8>> {
    let mut b = data.get(..).filter(|d| d.len() >= 80)?.to_vec();
    let count = u64::from_le_bytes(b[16..24].try_into().ok()?);
    let end = count.checked_mul(256)?.checked_add(4096)?;
    if b[8..12] == 2u32.to_le_bytes() && end <= b.len() as u64 {
        let vs: Vec<HV16> = b[4096..end as usize]
            .chunks_exact(256)
            .filter_map(|c| c.try_into().ok().map(HV16::from_le_bytes))
            .collect();
        let crc = zc_hv16::format::data_crc32c(0, &vs);
        b[40..44].copy_from_slice(&crc.to_le_bytes());
    }
    let sum = zc_hv16::fnv1a64(&b[..72]);
    b[72..80].copy_from_slice(&sum.to_le_bytes());
    Some(b)
}

pub fn run(data: &[u8]) {
    run_one(data);
    if let Some(fixed) = with_checksums_fixed(data) {
        run_one(&fixed);
    }
}

fn run_one(data: &[u8]) {
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
    if let Ok(store) = HvStore::open_with(&path, OpenOptions::new().verify(false)) {
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
        rw.set_durability(zc_hv16::Durability::NoSync);
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
