//! Opening verifies: corrupt data, a header over never-written data and
//! corrupt names are typed errors naming the file and the byte offset; the
//! opt-out opens them; version-1 files (written by the v1 writer, committed in
//! tests/data) still open, verify and append.

use std::fs;
use std::path::{Path, PathBuf};

use zc_hv16::format::{DATA_OFFSET, NAMES_MAGIC, NAMES_MAGIC_V2, VERSION, VERSION_1, names_path};
use zc_hv16::{HV16, HvError, HvStore, ItemMemory, OpenOptions};

fn vecs(range: std::ops::Range<u64>) -> Vec<HV16> {
    range.map(HV16::random).collect()
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn store_with(dir: &Path, name: &str, n: u64) -> PathBuf {
    let p = dir.join(name);
    let mut st = HvStore::create(&p).unwrap();
    st.append(&vecs(0..n)).unwrap();
    st.shrink_to_fit().unwrap();
    p
}

#[test]
fn every_flipped_data_byte_fails_to_open_and_names_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let good = store_with(dir.path(), "g.hv16", 3);
    let raw = fs::read(&good).unwrap();
    let p = dir.path().join("flipped.hv16");
    for o in (DATA_OFFSET as usize..raw.len()).step_by(7).chain([raw.len() - 1]) {
        let mut b = raw.clone();
        b[o] ^= 0x10;
        fs::write(&p, &b).unwrap();
        for opened in [HvStore::open(&p), HvStore::open_rw(&p)] {
            match opened {
                Err(HvError::DataChecksum {
                    path,
                    offset,
                    len,
                    stored,
                    computed,
                }) => {
                    assert_eq!((path.as_path(), offset, len), (p.as_path(), DATA_OFFSET, 768));
                    assert_ne!(stored, computed);
                }
                other => panic!("flip at {o}: {other:?}"),
            }
        }
        // the explicit opt-out opens it; verify() still finds it
        let st = HvStore::open_with(&p, OpenOptions::new().verify(false)).unwrap();
        assert_eq!(st.len(), 3);
        assert!(matches!(st.verify(), Err(HvError::DataChecksum { .. })));
    }
    let e = HvStore::open(&p).unwrap_err().to_string();
    assert!(e.contains("flipped.hv16") && e.contains("4096..4864"), "{e}");
}

/// A machine crash with durability off can leave the new header on disk and
/// the data it counts unwritten (zeros, or a sparse hole).
#[test]
fn header_over_never_written_data_fails_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let five = store_with(dir.path(), "five.hv16", 5);
    let three = store_with(dir.path(), "three.hv16", 3);
    let mut crashed = fs::read(&three).unwrap();
    crashed.resize(DATA_OFFSET as usize + 5 * 256, 0);
    crashed[..DATA_OFFSET as usize].copy_from_slice(&fs::read(&five).unwrap()[..DATA_OFFSET as usize]);
    fs::write(&three, &crashed).unwrap();
    assert!(matches!(
        HvStore::open(&three),
        Err(HvError::DataChecksum { len: 1280, .. })
    ));
    assert!(matches!(ItemMemory::open(&three), Err(HvError::DataChecksum { .. })));
}

#[test]
fn created_stores_are_version_2_and_verify_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let p = store_with(dir.path(), "v2.hv16", 4);
    let st = HvStore::open(&p).unwrap();
    assert_eq!(st.header().version, VERSION);
    assert_eq!(st.header().data_crc32c, zc_hv16::format::data_crc32c(0, &vecs(0..4)));
    assert_eq!(st.vectors(), &vecs(0..4)[..]);
    let mut rw = HvStore::open_rw(&p).unwrap();
    rw.append(&vecs(4..9)).unwrap();
    drop(rw);
    assert_eq!(HvStore::open(&p).unwrap().vectors(), &vecs(0..9)[..]);
}

#[test]
fn version_1_files_open_verify_and_append_as_version_1() {
    let st = HvStore::open(data("v1-3vectors.hv16")).unwrap();
    assert_eq!(st.header().version, VERSION_1);
    assert_eq!(st.generator(), zc_hv16::GENERATOR_SPLITMIX64_V1);
    assert_eq!(st.vectors(), &vecs(0..3)[..]);
    let empty = HvStore::open(data("v1-empty.hv16")).unwrap();
    assert_eq!((empty.len(), empty.header().version), (0, VERSION_1));

    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v1.hv16");
    fs::copy(data("v1-3vectors.hv16"), &p).unwrap();
    let mut rw = HvStore::open_rw(&p).unwrap();
    rw.append(&vecs(3..6)).unwrap();
    drop(rw);
    let st = HvStore::open(&p).unwrap();
    assert_eq!((st.header().version, st.len()), (VERSION_1, 6));
    assert_eq!(st.vectors(), &vecs(0..6)[..]);
    // version-1 data is verified on open too
    let mut b = fs::read(&p).unwrap();
    b[DATA_OFFSET as usize + 5 * 256 + 9] ^= 1;
    fs::write(&p, &b).unwrap();
    assert!(matches!(HvStore::open(&p), Err(HvError::DataChecksum { .. })));
}

#[test]
fn version_1_item_memory_opens_and_appends_version_1_names() {
    let im = ItemMemory::open(data("v1-items.hv16")).unwrap();
    let names: Vec<_> = (0..im.len()).map(|i| im.name(i).unwrap()).collect();
    assert_eq!(names, ["red", "green", "blue"]);
    assert_eq!(im.get("green"), Some(&HV16::from_key(b"green")));
    drop(im);

    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v1.hv16");
    fs::copy(data("v1-items.hv16"), &p).unwrap();
    fs::copy(data("v1-items.hv16.names"), names_path(&p)).unwrap();
    let mut im = ItemMemory::open_rw(&p).unwrap();
    assert_eq!(im.intern("cyan").unwrap(), 3);
    drop(im);
    let im = ItemMemory::open_rw(&p).unwrap();
    assert_eq!(im.index_of("cyan"), Some(3));
    assert_eq!(im.store().header().version, VERSION_1);
    assert_eq!(fs::read(names_path(&p)).unwrap()[..8], NAMES_MAGIC);
}

/// Every single-byte flip of a version-2 names sidecar is an error; none opens
/// with a wrong name (version 1 opened 47 % of them silently).
#[test]
fn every_flipped_names_byte_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("im.hv16");
    let mut im = ItemMemory::create(&p).unwrap();
    for n in ["red", "green", "blue", "ünïcode", ""] {
        im.intern(n).unwrap();
    }
    drop(im);
    let np = names_path(&p);
    let raw = fs::read(&np).unwrap();
    assert_eq!(raw[..8], NAMES_MAGIC_V2);
    for o in 0..raw.len() {
        for x in [0x01u8, 0x80, 0xFF] {
            let mut b = raw.clone();
            b[o] ^= x;
            fs::write(&np, &b).unwrap();
            match ItemMemory::open(&p) {
                Err(HvError::NamesChecksum { path, offset, .. }) => {
                    assert_eq!(path, np);
                    assert!(offset <= o as u64, "record at {offset}, flip at {o}");
                }
                Err(HvError::CorruptNames { path, .. }) => assert_eq!(path, np),
                other => panic!("flip {x:#x} at byte {o}: {other:?}"),
            }
        }
    }
    // swapped records fail too (the checksum covers the index)
    fs::write(&np, &raw).unwrap();
    let mut im = ItemMemory::open_rw(&p).unwrap();
    assert_eq!(im.len(), 5);
    im.insert("ab", &HV16::random(1)).unwrap();
    im.insert("cd", &HV16::random(2)).unwrap();
    drop(im);
    let mut b = fs::read(&np).unwrap();
    let n = b.len();
    let (first, second) = (n - 20..n - 10, n - 10..n);
    let (r1, r2) = (b[first.clone()].to_vec(), b[second.clone()].to_vec());
    b[first].copy_from_slice(&r2);
    b[second].copy_from_slice(&r1);
    fs::write(&np, &b).unwrap();
    assert!(matches!(
        ItemMemory::open(&p),
        Err(HvError::NamesChecksum { index: 5, .. })
    ));
}

#[test]
fn torn_names_tail_is_dropped_and_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("im.hv16");
    let mut im = ItemMemory::create(&p).unwrap();
    im.intern("a").unwrap();
    drop(im);
    let np = names_path(&p);
    let committed = fs::read(&np).unwrap();
    // a crashed insert: a whole record without its vector, then a torn one
    let mut b = committed.clone();
    b.extend_from_slice(&[1, 0, 0, 0, 1, 2, 3, 4, b'z', 7, 0]);
    fs::write(&np, &b).unwrap();
    let mut im = ItemMemory::open_rw(&p).unwrap();
    assert_eq!(im.len(), 1);
    assert_eq!(fs::read(&np).unwrap(), committed);
    assert_eq!(im.insert("b", &HV16::random(9)).unwrap(), 1);
    drop(im);
    let im = ItemMemory::open(&p).unwrap();
    assert_eq!((im.name(0), im.name(1)), (Some("a"), Some("b")));
}

#[test]
fn opt_out_still_checks_header_and_names() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("im.hv16");
    let mut im = ItemMemory::create(&p).unwrap();
    im.intern("a").unwrap();
    drop(im);
    let np = names_path(&p);
    let mut b = fs::read(&np).unwrap();
    let last = b.len() - 1;
    b[last] ^= 1;
    fs::write(&np, &b).unwrap();
    let no_verify = OpenOptions::new().verify(false);
    assert!(matches!(
        ItemMemory::open_with(&p, no_verify),
        Err(HvError::NamesChecksum {
            offset: 8,
            index: 0,
            ..
        })
    ));
    let mut h = fs::read(&p).unwrap();
    h[16] ^= 1;
    fs::write(&p, &h).unwrap();
    assert!(matches!(
        HvStore::open_with(&p, no_verify),
        Err(HvError::HeaderChecksum { .. })
    ));
}

/// Version 1 compares all four checksum lanes, not their 64-bit fold: a
/// header whose lanes differ but fold to the same number (found by the
/// hvstore_open fuzzer) opened, verified, and broke on the next append.
#[test]
fn version_1_lanes_that_only_fold_alike_fail_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v1.hv16");
    let mut b = fs::read(data("v1-3vectors.hv16")).unwrap();
    let lane = |b: &[u8], i: usize| u64::from_le_bytes(b[40 + 8 * i..48 + 8 * i].try_into().unwrap());
    let (l0, l1) = (lane(&b, 0), lane(&b, 1));
    let x = 0x0123_4567_89AB_CDEFu64;
    b[40..48].copy_from_slice(&(l0 ^ x).to_le_bytes());
    b[48..56].copy_from_slice(&(l1 ^ x.rotate_right(16)).to_le_bytes());
    let sum = zc_hv16::fnv1a64(&b[..72]);
    b[72..80].copy_from_slice(&sum.to_le_bytes());
    fs::write(&p, &b).unwrap();
    match HvStore::open(&p) {
        Err(HvError::DataChecksum { stored, computed, .. }) => assert_eq!(stored, computed, "the folds agree"),
        other => panic!("{other:?}"),
    }
}
