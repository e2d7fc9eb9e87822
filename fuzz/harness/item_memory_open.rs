//! Fuzz body for `ItemMemory::open` with its names sidecar: the input is
//! `[store length: u16 LE][store bytes][sidecar bytes]` (a short input is all
//! store). Any bytes give a typed error or an item memory whose every name
//! and vector can be read, looked up and cleaned up; never a panic, an abort
//! or UB. Shared by `fuzz/fuzz_targets/item_memory_open.rs` and
//! `crates/zc-hv16/tests/fuzz_replay.rs`.

use std::path::PathBuf;

use zc_hv16::item_memory::names_path;
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

pub fn run(data: &[u8]) {
    let Some(dir) = scratch() else { return };
    let path = dir.join("items.hv16");
    let names = names_path(&path);
    let (store_bytes, names_bytes) = split(data);
    if std::fs::write(&path, store_bytes).is_err() || std::fs::write(&names, names_bytes).is_err() {
        return;
    }
    let read_only = ItemMemory::open_read_only(&path);
    if let Ok(im) = &read_only {
        exercise(im);
    }
    if let Ok(im) = OpenOptions::new().verify(false).open_item_memory(&path) {
        exercise(&im);
    } else {
        assert!(read_only.is_err(), "a verified open implies an unverified one");
    }
    // writable: drops a crashed tail, then takes a new unique name
    if let Ok(mut im) = ItemMemory::open(&path) {
        let n = im.len();
        assert_eq!(Some(n), read_only.as_ref().ok().map(ItemMemory::len));
        let fresh = (0..).map(|i| format!("fuzz-{i}")).find(|s| im.index_of(s).is_none());
        let fresh = fresh.expect("some name is free");
        assert_eq!(im.intern(&fresh).expect("insert into a sound item memory"), n);
        drop(im);
        let again = ItemMemory::open_read_only(&path).expect("reopen after an insert");
        assert_eq!(again.len(), n + 1);
        assert_eq!(again.index_of(&fresh), Some(n));
        exercise(&again);
    }
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(&names);
}
