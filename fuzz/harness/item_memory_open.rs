//! Fuzz body for `ItemMemory::open` with its names sidecar: the input is
//! `[store length: u16 LE][store bytes][sidecar bytes]` (a short input is all
//! store). Any bytes give a typed error or an item memory whose every name
//! and vector can be read, looked up and cleaned up; never a panic, an abort
//! or UB. Shared by `fuzz/fuzz_targets/item_memory_open.rs` and
//! `crates/zc-hv16/tests/fuzz_replay.rs`.

use std::path::PathBuf;

use zc_hv16::format::names_path;
use zc_hv16::{HV16, ItemMemory, OpenOptions};

/// A scratch directory of this process and thread.
fn scratch() -> Option<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "zc-hv16-fuzz-items-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}

/// Every name maps back to its index and vector; cleanup resolves a name.
fn exercise(im: &ItemMemory) {
    let vs = im.vectors();
    assert_eq!(vs.len(), im.len(), "one name per vector");
    for (i, v) in vs.iter().enumerate() {
        let name = im.name(i).expect("every index has a name");
        assert_eq!(im.index_of(name), Some(i), "names are unique");
        assert_eq!(im.get(name), Some(v));
    }
    assert!(im.name(vs.len()).is_none());
    let query = vs.first().copied().unwrap_or_else(HV16::zero);
    match im.cleanup(&query) {
        Ok(c) => assert_eq!(c.distance, 0),
        Err(_) => assert!(vs.is_empty(), "cleanup fails only when empty"),
    }
    std::hint::black_box(im.store().verify().is_ok());
}

/// Splits the input into store bytes and sidecar bytes.
fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data {
        [a, b, rest @ ..] => {
            let n = usize::from(u16::from_le_bytes([*a, *b])).min(rest.len());
            rest.split_at(n)
        }
        _ => (data, &[]),
    }
}

/// `store` with its header checksum and (version 2, when the count fits the
/// file) its data CRC made right (as in the `hvstore_open` harness).
fn store_with_checksums_fixed(data: &[u8]) -> Option<Vec<u8>> {
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

/// The store's header checksum and data CRC made right (see the
/// `hvstore_open` harness), and every version-2 names record's CRC made
/// right, so the fuzzer also reaches name parsing: lengths, UTF-8,
/// duplicates, counts, crashed tails.
fn with_checksums_fixed(store: &[u8], names: &[u8]) -> (Option<Vec<u8>>, Vec<u8>) {
    let store = store_with_checksums_fixed(store);
    let mut n = names.to_vec();
    if n.get(..8) == Some(&zc_hv16::format::NAMES_MAGIC_V2[..]) {
        let mut pos = 8usize;
        let mut index = 0usize;
        while let Some(head) = n.get(pos..pos.saturating_add(8)) {
            let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
            let body_at = pos + 8;
            let Some(body) = n.get(body_at..body_at.saturating_add(len)) else {
                break;
            };
            let crc = zc_hv16::format::names_record_crc(index, body);
            n[pos + 4..pos + 8].copy_from_slice(&crc.to_le_bytes());
            pos = body_at + len;
            index += 1;
        }
    }
    (store, n)
}

pub fn run(data: &[u8]) {
    let (store_bytes, names_bytes) = split(data);
    run_one(store_bytes, names_bytes);
    let (store, names) = with_checksums_fixed(store_bytes, names_bytes);
    run_one(store.as_deref().unwrap_or(store_bytes), &names);
}

fn run_one(store_bytes: &[u8], names_bytes: &[u8]) {
    let Some(dir) = scratch() else { return };
    let path = dir.join("items.hv16");
    let names = names_path(&path);
    if std::fs::write(&path, store_bytes).is_err() || std::fs::write(&names, names_bytes).is_err() {
        return;
    }
    let read_only = ItemMemory::open(&path);
    if let Ok(im) = &read_only {
        exercise(im);
    }
    if let Ok(im) = ItemMemory::open_with(&path, OpenOptions::new().verify(false)) {
        exercise(&im);
    } else {
        assert!(read_only.is_err(), "a verified open implies an unverified one");
    }
    // writable: drops a crashed tail, then takes a new unique name
    if let Ok(mut im) = ItemMemory::open_rw(&path) {
        let n = im.len();
        assert_eq!(Some(n), read_only.as_ref().ok().map(ItemMemory::len));
        let fresh = (0..).map(|i| format!("fuzz-{i}")).find(|s| im.index_of(s).is_none());
        let fresh = fresh.expect("some name is free");
        assert_eq!(im.intern(&fresh).expect("insert into a sound item memory"), n);
        drop(im);
        let again = ItemMemory::open(&path).expect("reopen after an insert");
        assert_eq!(again.len(), n + 1);
        assert_eq!(again.index_of(&fresh), Some(n));
        exercise(&again);
    }
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(&names);
}
