//! HvStore round trips, crash consistency, corrupt files; ItemMemory.

use std::fs;
use std::path::Path;

use proptest::prelude::*;
use zc_hv16::format::names_path;
use zc_hv16::format::{DATA_OFFSET, HEADER_USED};
use zc_hv16::{GENERATOR_SPLITMIX64_V1, HV16, Hamming, HvError, HvStore, ItemMemory};

fn vecs(range: std::ops::Range<u64>) -> Vec<HV16> {
    range.map(HV16::random).collect()
}

#[test]
fn round_trip_append_reopen_verify() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.hv16");
    let mut st = HvStore::create_with_generator(&path, GENERATOR_SPLITMIX64_V1).unwrap();
    assert!(st.is_empty());
    assert_eq!(st.vectors(), &[] as &[HV16]);
    assert_eq!(st.append(&vecs(0..10)).unwrap(), 0);
    assert_eq!(st.push(&HV16::random(10)).unwrap(), 10);
    assert_eq!(st.append(&[]).unwrap(), 11);
    assert_eq!(st.vectors(), &vecs(0..11)[..]);
    st.verify().unwrap();
    drop(st);

    let ro = HvStore::open(&path).unwrap();
    assert_eq!(ro.len(), 11);
    assert_eq!(ro.generator(), GENERATOR_SPLITMIX64_V1);
    assert_eq!(ro.vectors(), &vecs(0..11)[..]);
    assert_eq!(ro.vectors().as_ptr() as usize % 4096, 0, "mapping is page-aligned");
    ro.verify().unwrap();
    assert!(matches!(ro.flush(), Err(HvError::ReadOnly { .. })));
    let mut ro = ro;
    assert!(matches!(ro.push(&HV16::zero()), Err(HvError::ReadOnly { .. })));
    // search runs straight on the mapping
    assert_eq!(
        Hamming::detect().cleanup(&HV16::random(7), ro.vectors()).unwrap().index,
        7
    );

    let mut rw = HvStore::open_rw(&path).unwrap();
    rw.append(&vecs(11..300)).unwrap();
    rw.shrink_to_fit().unwrap();
    assert_eq!(fs::metadata(&path).unwrap().len(), DATA_OFFSET + 300 * 256);
    drop(rw);
    let ro = HvStore::open(&path).unwrap();
    assert_eq!(ro.vectors(), &vecs(0..300)[..]);
    ro.verify().unwrap();
}

#[test]
fn appends_are_zero_copy_reads_but_ledgered_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.hv16");
    let mut st = HvStore::create(&path).unwrap();
    st.set_durability(zc_hv16::Durability::NoSync);
    let vs = vecs(0..4);
    let (_, report) = zc_buffers::ledger::scope(|| st.append(&vs).unwrap());
    assert_eq!(report.bytes_copied, 4 * 256);
    let ro = HvStore::open(&path).unwrap();
    let (sum, report) = zc_buffers::ledger::scope(|| ro.vectors().iter().map(HV16::count_ones).sum::<u32>());
    assert!(sum > 0);
    assert!(report.is_zero_copy());
}

#[test]
fn empty_store_opens_and_searches_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.hv16");
    HvStore::create(&path).unwrap();
    let st = HvStore::open(&path).unwrap();
    assert!(st.is_empty());
    assert!(matches!(
        Hamming::detect().top_k(&HV16::zero(), st.vectors(), 1),
        Err(HvError::Empty)
    ));
    st.verify().unwrap();
}

/// Crash consistency: for every byte offset inside the last append,
/// (a) the finished file cut there, and (b) the state before the header
/// rewrite (old header, data written up to there) either fail to open
/// cleanly or open with the previous count and contents.
#[test]
fn crash_consistency_of_append_at_every_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.hv16");
    let mut st = HvStore::create(&path).unwrap();
    st.append(&vecs(0..3)).unwrap();
    st.shrink_to_fit().unwrap();
    drop(st);
    let before = fs::read(&path).unwrap();
    let mut st = HvStore::open_rw(&path).unwrap();
    st.append(&vecs(3..5)).unwrap();
    drop(st);
    let after = fs::read(&path).unwrap();
    let start = DATA_OFFSET as usize + 3 * 256;
    let end = DATA_OFFSET as usize + 5 * 256;
    assert!(after.len() >= end);
    let probe = dir.path().join("probe.hv16");
    let check = |bytes: &[u8], what: &str, cut: usize| match HvStore::open(&probe) {
        Ok(s) => {
            assert_eq!(s.len(), 3, "{what} at {cut}: opened with {} vectors", s.len());
            assert_eq!(s.vectors(), &vecs(0..3)[..], "{what} at {cut}");
            s.verify().unwrap();
            let _ = bytes;
        }
        Err(HvError::CountExceedsFile { count: 5, .. }) => {}
        Err(e) => panic!("{what} at {cut}: unexpected error {e}"),
    };
    for cut in start..end {
        fs::write(&probe, &after[..cut]).unwrap();
        check(&after[..cut], "cut final file", cut);
        let mut torn = after[..cut].to_vec();
        torn[..HEADER_USED].copy_from_slice(&before[..HEADER_USED]);
        fs::write(&probe, &torn).unwrap();
        check(&torn, "old header", cut);
    }
    // A header torn between the two versions fails its checksum.
    let mut mixed = after.clone();
    mixed[16..20].copy_from_slice(&before[16..20]);
    fs::write(&probe, &mixed).unwrap();
    assert!(matches!(HvStore::open(&probe), Err(HvError::HeaderChecksum { .. })));
}

fn write_header_field(path: &Path, offset: usize, bytes: &[u8], fix_checksum: bool) {
    let mut raw = fs::read(path).unwrap();
    raw[offset..offset + bytes.len()].copy_from_slice(bytes);
    if fix_checksum {
        let sum = zc_hv16::fnv1a64(&raw[..72]);
        raw[72..80].copy_from_slice(&sum.to_le_bytes());
    }
    fs::write(path, raw).unwrap();
}

#[test]
fn bad_files_give_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("g.hv16");
    let mut st = HvStore::create(&good).unwrap();
    st.append(&vecs(0..4)).unwrap();
    drop(st);
    let p = dir.path().join("b.hv16");
    let reset = || fs::copy(&good, &p).unwrap();

    assert!(matches!(
        HvStore::open(dir.path().join("missing")),
        Err(HvError::Buffer(zc_buffers::BufferError::Io { .. }))
    ));
    fs::write(&p, b"").unwrap();
    assert!(matches!(
        HvStore::open(&p),
        Err(HvError::TruncatedHeader { len: 0, .. })
    ));
    fs::write(&p, [0u8; 100]).unwrap();
    assert!(matches!(HvStore::open(&p), Err(HvError::TruncatedHeader { .. })));
    reset();
    write_header_field(&p, 0, b"NOTASTOR", false);
    assert!(matches!(HvStore::open(&p), Err(HvError::BadMagic { .. })));
    reset();
    write_header_field(&p, 8, &3u32.to_le_bytes(), true);
    assert!(matches!(
        HvStore::open(&p),
        Err(HvError::UnsupportedVersion {
            found: 3,
            supported: 2,
            ..
        })
    ));
    reset();
    write_header_field(&p, 12, &1024u32.to_le_bytes(), true);
    assert!(matches!(
        HvStore::open(&p),
        Err(HvError::WrongDimension { found: 1024, .. })
    ));
    reset();
    write_header_field(&p, 16, &5u64.to_le_bytes(), false);
    assert!(matches!(HvStore::open(&p), Err(HvError::HeaderChecksum { .. })));
    reset();
    write_header_field(&p, 16, &1_000_000u64.to_le_bytes(), true);
    assert!(matches!(
        HvStore::open(&p),
        Err(HvError::CountExceedsFile { count: 1_000_000, .. })
    ));
    reset();
    write_header_field(&p, 16, &u64::MAX.to_le_bytes(), true);
    assert!(matches!(HvStore::open(&p), Err(HvError::CountExceedsFile { .. })));
    reset();
    write_header_field(&p, 24, &9u64.to_le_bytes(), true);
    assert!(matches!(
        HvStore::open(&p),
        Err(HvError::UnknownGenerator { found: 9, .. })
    ));
    reset();
    write_header_field(&p, 32, &8192u64.to_le_bytes(), true);
    assert!(matches!(HvStore::open(&p), Err(HvError::BadDataOffset { .. })));
    reset();
    write_header_field(&p, 50, &[1], true);
    assert!(matches!(
        HvStore::open(&p),
        Err(HvError::ReservedNotZero { offset: 50, .. })
    ));
    // corrupt data: open refuses it; without verification it opens and
    // verify reports it
    reset();
    write_header_field(&p, DATA_OFFSET as usize + 300, &[0xAA], false);
    assert!(matches!(
        HvStore::open(&p),
        Err(HvError::DataChecksum {
            offset: DATA_OFFSET,
            len: 1024,
            ..
        })
    ));
    let st = HvStore::open_with(&p, zc_hv16::OpenOptions::new().verify(false)).unwrap();
    assert!(matches!(st.verify(), Err(HvError::DataChecksum { .. })));
    // message mentions the path
    let e = HvStore::open(dir.path().join("missing")).unwrap_err().to_string();
    assert!(e.contains("missing"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random bytes and mutated stores never panic: open either fails with a
    /// typed error or yields a store whose vectors can all be read.
    #[test]
    fn open_survives_random_and_mutated_files(
        random in proptest::collection::vec(any::<u8>(), 0..5000),
        flips in proptest::collection::vec((0usize..(4096 + 3 * 256), any::<u8>()), 0..6),
        cut in 0usize..(4096 + 3 * 256 + 1),
        use_random in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.hv16");
        let bytes = if use_random {
            random
        } else {
            let mut st = HvStore::create(&p).unwrap();
            st.set_durability(zc_hv16::Durability::NoSync);
            st.append(&vecs(0..3)).unwrap();
            st.shrink_to_fit().unwrap();
            drop(st);
            let mut b = fs::read(&p).unwrap();
            for (o, x) in flips { b[o] ^= x; }
            b.truncate(cut);
            b
        };
        fs::write(&p, &bytes).unwrap();
        if let Ok(st) = HvStore::open(&p) {
            let n = st.len();
            prop_assert!(DATA_OFFSET as usize + n * 256 <= bytes.len());
            let ones: u32 = st.vectors().iter().map(HV16::count_ones).sum();
            prop_assert!(ones <= 2048 * n as u32);
            let _ = st.verify();
        }
    }
}

#[test]
fn item_memory_insert_reopen_cleanup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("im.hv16");
    let mut im = ItemMemory::create(&path).unwrap();
    assert!(matches!(im.cleanup(&HV16::zero()), Err(HvError::Empty)));
    let names = ["red", "green", "blue", "ünïcode"];
    for n in names {
        im.intern(n).unwrap();
    }
    assert_eq!(im.intern("green").unwrap(), 1);
    im.insert("seven", &HV16::random(7)).unwrap();
    assert!(matches!(
        im.insert("red", &HV16::zero()),
        Err(HvError::DuplicateName { index: 0, .. })
    ));
    drop(im);

    let im = ItemMemory::open(&path).unwrap();
    assert_eq!(im.len(), 5);
    assert_eq!(im.name(3), Some("ünïcode"));
    assert_eq!(im.get("seven"), Some(&HV16::random(7)));
    let c = im.cleanup(&HV16::from_key(b"blue").flip(0.2, 1)).unwrap();
    assert_eq!((c.index, c.name, c.distance), (2, "blue", 410));
    drop(im);

    // crash between the name record and the vector: an extra name (and a torn
    // record) in the sidecar is dropped on open
    let np = names_path(&path);
    let mut raw = fs::read(&np).unwrap();
    raw.extend_from_slice(&5u32.to_le_bytes());
    raw.extend_from_slice(b"orphan");
    raw.extend_from_slice(&[9, 0]);
    fs::write(&np, &raw).unwrap();
    let mut im = ItemMemory::open_rw(&path).unwrap();
    assert_eq!(im.len(), 5);
    assert_eq!(im.insert("orphan", &HV16::random(1)).unwrap(), 5);
    drop(im);
    let im = ItemMemory::open_rw(&path).unwrap();
    assert_eq!(im.index_of("orphan"), Some(5));

    // fewer names than vectors is corruption
    drop(im);
    let raw = fs::read(&np).unwrap();
    fs::write(&np, &raw[..raw.len() - 3]).unwrap();
    assert!(matches!(ItemMemory::open_rw(&path), Err(HvError::CorruptNames { .. })));
    fs::write(&np, b"garbage!").unwrap();
    assert!(matches!(ItemMemory::open_rw(&path), Err(HvError::CorruptNames { .. })));
}

/// 100 000 named inserts in one batch: every name and vector is there after
/// reopening, read-only and writable. (The time is measured by
/// `examples/batch_insert.rs`, not asserted here.)
#[test]
fn item_memory_batch_of_100k_reopens_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("batch.hv16");
    let mut im = ItemMemory::create(&path).unwrap();
    im.intern("first").unwrap();
    let n = 100_000u64;
    let range = im
        .extend((0..n).map(|i| (format!("sym-{i}"), HV16::random(i))))
        .unwrap();
    assert_eq!(range, 1..1 + n as usize);
    assert_eq!(im.len(), 1 + n as usize);
    drop(im);
    let im = ItemMemory::open(&path).unwrap();
    assert_eq!(im.len(), 1 + n as usize);
    for i in [0u64, 1, 4242, n - 1] {
        let name = format!("sym-{i}");
        assert_eq!(im.index_of(&name), Some(1 + i as usize));
        assert_eq!(im.get(&name), Some(&HV16::random(i)));
    }
    let c = im.cleanup(&HV16::random(777).flip(0.2, 3)).unwrap();
    assert_eq!((c.name, c.distance), ("sym-777", 410));
    drop(im);
    let mut im = ItemMemory::open_rw(&path).unwrap();
    assert_eq!(im.insert("last", &HV16::zero()).unwrap(), 1 + n as usize);
}

#[test]
fn item_memory_batches_are_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("atomic.hv16");
    let mut im = ItemMemory::create(&path).unwrap();
    im.set_durability(zc_hv16::Durability::NoSync);
    assert_eq!(im.durability(), zc_hv16::Durability::NoSync);
    assert_eq!(
        im.extend([("a", HV16::random(1)), ("b", HV16::random(2))]).unwrap(),
        0..2
    );
    // a duplicate inside the batch, or against the memory, inserts nothing
    assert!(matches!(
        im.extend([("c", HV16::random(3)), ("d", HV16::random(4)), ("c", HV16::random(5))]),
        Err(HvError::DuplicateName { index: 2, .. })
    ));
    assert!(matches!(
        im.extend([("e", HV16::random(3)), ("a", HV16::random(4))]),
        Err(HvError::DuplicateName { index: 0, .. })
    ));
    let long = "x".repeat(zc_hv16::format::MAX_NAME_LEN + 1);
    assert!(matches!(
        im.extend([("f", HV16::zero()), (long.as_str(), HV16::zero())]),
        Err(HvError::NameTooLong { .. })
    ));
    assert_eq!(im.len(), 2);
    assert_eq!(im.index_of("c"), None);
    assert_eq!(im.index_of("e"), None);
    assert_eq!(im.extend(std::iter::empty::<(&str, HV16)>()).unwrap(), 2..2);
    assert_eq!(im.extend([("c", HV16::random(3))]).unwrap(), 2..3);
    im.flush().unwrap();
    drop(im);
    let im = ItemMemory::open(&path).unwrap();
    assert_eq!((im.len(), im.index_of("c")), (3, Some(2)));
    assert!(matches!(im.flush(), Err(HvError::ReadOnly { .. })));
    let mut im = im;
    assert!(matches!(
        im.extend([("z", HV16::zero())]),
        Err(HvError::ReadOnly { .. })
    ));
}
