//! Sharded stores: exactness against one store (ties included), the
//! manifest, errors naming the shard, the rolling writer and its recovery.

use std::path::Path;

use proptest::prelude::*;
use zc_hv16::{
    Durability, HV16, Hamming, Hit, HvError, HvStore, ManifestProblem, PAD_HIT, Partial, ShardError, ShardManifest,
    ShardSet, ShardWriter, merge_top_k, merge_top_k_into_slice, split_store,
};

type R<T = ()> = Result<T, Box<dyn std::error::Error>>;

fn write_store(path: &Path, vs: &[HV16]) -> R {
    let mut s = HvStore::create(path)?;
    s.set_durability(Durability::NoSync);
    s.append(vs)?;
    Ok(())
}

/// `n` vectors drawn from `distinct` base vectors (so most distances tie),
/// a few of them unique.
fn tie_heavy(n: usize, distinct: usize, seed: u64) -> Vec<HV16> {
    let base: Vec<HV16> = (0..distinct as u64).map(|i| HV16::random(seed * 1000 + i)).collect();
    let mut state = seed;
    (0..n)
        .map(|i| {
            let r = zc_hv16::splitmix64(&mut state) as usize;
            if i % 7 == 3 {
                HV16::random(seed * 7777 + i as u64)
            } else {
                base[r % distinct]
            }
        })
        .collect()
}

fn single_top_k(vs: &[HV16], queries: &[HV16], k: usize) -> Result<Vec<Hit>, HvError> {
    let mut out = vec![Hit::default(); queries.len() * k];
    Hamming::detect().top_k_batch_into_slice(queries, vs, k, &mut out)?;
    Ok(out)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random stores split into 1–5 shards give exactly the single-store
    /// top-k, ties by global index included, for k from 1 past n; k > n is
    /// the same `InvalidK` error.
    #[test]
    fn sharded_search_equals_one_store(n in 1usize..160, distinct in 1usize..9, shards in 1usize..=5, seed in 0u64..1000) {
        let dir = tempfile::tempdir().unwrap();
        let vs = tie_heavy(n, distinct, seed);
        write_store(&dir.path().join("all.hv"), &vs).unwrap();
        let store = HvStore::open(dir.path().join("all.hv")).unwrap();
        let per = n.div_ceil(shards);
        let m = split_store(&store, dir.path().join("sh/shards.json"), per, "g").unwrap();
        prop_assert_eq!(m.shards.len(), n.div_ceil(per));
        let set = ShardSet::open(dir.path().join("sh/shards.json")).unwrap();
        prop_assert_eq!(set.len(), n);
        let mut queries: Vec<HV16> = (0..3).map(|i| HV16::random(seed + 50_000 + i)).collect();
        queries.extend([vs[0], vs[n / 2], vs[n - 1]]); // members: distance-0 ties
        for k in [1, 2, per.saturating_sub(1).max(1), per, per + 1, n / 2 + 1, n, n + 1, n + 17] {
            for threads in [1, 2] {
                match (single_top_k(&vs, &queries, k), set.search(&queries, k, threads)) {
                    (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "k {} threads {}", k, threads),
                    (Err(HvError::InvalidK { k: a, n: an }), Err(ShardError::Hv(HvError::InvalidK { k: b, n: bn }))) => {
                        prop_assert_eq!((a, an), (b, bn));
                        prop_assert!(k > n);
                    }
                    (a, b) => prop_assert!(false, "k {}: single {:?} sharded {:?}", k, a.err(), b.err()),
                }
            }
        }
        for g in [0, n / 3, n - 1] {
            prop_assert_eq!(set.get(g), Some(&vs[g]));
        }
        prop_assert_eq!(set.get(n), None);
    }
}

#[test]
fn ties_are_cut_at_the_k_boundary_like_one_store() -> R {
    // 40 copies of one vector over 3 shards: every top-k is all ties.
    let dir = tempfile::tempdir()?;
    let vs = vec![HV16::random(1); 40];
    write_store(&dir.path().join("all.hv"), &vs)?;
    let store = HvStore::open(dir.path().join("all.hv"))?;
    split_store(&store, dir.path().join("m.json"), 15, "")?;
    let set = ShardSet::open(dir.path().join("m.json"))?;
    let hits = set.search(&[vs[0]], 20, 1)?;
    assert!(hits.iter().enumerate().all(|(i, h)| h.distance == 0 && h.index == i));
    Ok(())
}

#[test]
fn merge_pads_past_the_available_hits_and_ignores_part_order() -> R {
    let a = [Hit::new(3, 0), Hit::new(5, 1), Hit::new(1, 0), Hit::new(9, 1)]; // 2 queries × 2
    let b = [Hit::new(3, 0), Hit::new(0, 0)]; // 2 queries × 1
    let parts = [Partial::new(&a, 2, 10), Partial::new(&b, 1, 2)];
    let mut out = [Hit::default(); 8];
    assert_eq!(merge_top_k_into_slice(&parts, 2, 4, &mut out)?, 8);
    assert_eq!(out[..4], [Hit::new(3, 2), Hit::new(3, 10), Hit::new(5, 11), PAD_HIT]);
    assert_eq!(out[4..], [Hit::new(0, 2), Hit::new(1, 10), Hit::new(9, 11), PAD_HIT]);
    let rev = [parts[1], parts[0]];
    assert_eq!(merge_top_k(&rev, 2, 4)?, out.to_vec());
    // merged output can be merged again: pads are skipped
    let again = merge_top_k(&[Partial::new(&out, 4, 0)], 2, 2)?;
    assert_eq!(again, [out[0], out[1], out[4], out[5]]);
    // errors write nothing
    let mut small = [Hit::new(7, 7); 7];
    assert!(matches!(
        merge_top_k_into_slice(&parts, 2, 4, &mut small),
        Err(HvError::Buffer(zc_buffers::BufferError::OutputTooSmall { .. }))
    ));
    assert!(small.iter().all(|h| *h == Hit::new(7, 7)));
    assert!(matches!(
        merge_top_k(&parts, 2, 0),
        Err(HvError::InvalidK { k: 0, n: 3 })
    ));
    let ragged = [Partial::new(&a[..3], 2, 0)];
    assert!(matches!(
        merge_top_k(&ragged, 2, 1),
        Err(HvError::Buffer(zc_buffers::BufferError::LengthMismatch {
            expected: 4,
            actual: 3
        }))
    ));
    let huge = [Partial::new(&a, 2, usize::MAX)];
    assert!(matches!(merge_top_k(&huge, 2, 1), Err(HvError::IndexOutOfRange { .. })));
    Ok(())
}

fn three_shards(dir: &Path) -> R<std::path::PathBuf> {
    let vs: Vec<HV16> = (0..90).map(HV16::random).collect();
    write_store(&dir.join("all.hv"), &vs)?;
    let store = HvStore::open(dir.join("all.hv"))?;
    split_store(&store, dir.join("sh/m.json"), 30, "g")?;
    Ok(dir.join("sh/m.json"))
}

#[test]
fn missing_corrupt_and_miscounted_shards_are_errors_naming_the_shard() -> R {
    let dir = tempfile::tempdir()?;
    let man = three_shards(dir.path())?;
    let sh = dir.path().join("sh");

    std::fs::rename(sh.join("shard-00001.hv"), sh.join("away"))?;
    let e = ShardSet::open(&man).unwrap_err();
    assert!(
        matches!(&e, ShardError::Shard { index: 1, path, source: HvError::Buffer(zc_buffers::BufferError::Io { .. }) } if path.ends_with("shard-00001.hv")),
        "{e:?}"
    );
    assert!(e.to_string().starts_with("shard 1 ("), "{e}");
    std::fs::rename(sh.join("away"), sh.join("shard-00001.hv"))?;

    let p = sh.join("shard-00002.hv");
    let mut raw = std::fs::read(&p)?;
    let last = raw.len() - 100;
    raw[last] ^= 1;
    std::fs::write(&p, &raw)?;
    let e = ShardSet::open(&man).unwrap_err();
    assert!(
        matches!(
            &e,
            ShardError::Shard {
                index: 2,
                source: HvError::DataChecksum { .. },
                ..
            }
        ),
        "{e:?}"
    );
    raw[last] ^= 1;
    std::fs::write(&p, &raw)?;
    ShardSet::open(&man)?;

    // the same file under another shard's name: counts agree, checksums do not
    std::fs::copy(sh.join("shard-00000.hv"), sh.join("saved"))?;
    std::fs::copy(sh.join("shard-00001.hv"), sh.join("shard-00000.hv"))?;
    let e = ShardSet::open(&man).unwrap_err();
    assert!(matches!(&e, ShardError::ChecksumMismatch { index: 0, .. }), "{e:?}");
    std::fs::rename(sh.join("saved"), sh.join("shard-00000.hv"))?;

    let mut m = ShardManifest::load(&man)?;
    m.shards[0].count = 29;
    m.shards[0].checksum = None;
    m.renumber();
    m.save(sh.join("bad.json"))?;
    let e = ShardSet::open(sh.join("bad.json")).unwrap_err();
    assert!(
        matches!(
            &e,
            ShardError::CountMismatch {
                index: 0,
                found: 30,
                expected: 29,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("holds 30 vectors, the manifest says 29"), "{e}");
    Ok(())
}

#[test]
fn manifest_validation_and_version_1_manifests() -> R {
    let dir = tempfile::tempdir()?;
    let man = three_shards(dir.path())?;
    let text = std::fs::read_to_string(&man)?;
    assert!(text.contains("\"version\": 2") && text.contains("\"checksum\""));
    // what zc.ray.hv16 wrote before 0.2
    let v1 = r#"{"format": "zc-hv16-shards", "version": 1, "generator": "g", "dim": 2048, "total": 90,
      "shards": [{"file": "shard-00000.hv", "count": 30, "offset": 0},
                 {"file": "shard-00001.hv", "count": 30, "offset": 30},
                 {"file": "shard-00002.hv", "count": 30, "offset": 60}]}"#;
    let p = dir.path().join("sh/v1.json");
    std::fs::write(&p, v1)?;
    let set = ShardSet::open(&p)?;
    assert_eq!(
        (set.len(), set.manifest().version, set.manifest().bytes_per_vector),
        (90, 1, 256)
    );
    let bad = |s: &str| {
        std::fs::write(&p, v1.replace("\"offset\": 30", s)).unwrap();
        ShardManifest::load(&p).unwrap_err()
    };
    let e = bad("\"offset\": 12");
    assert!(
        matches!(
            &e,
            ShardError::ManifestInvalid {
                problem: ManifestProblem::OffsetGap {
                    index: 1,
                    offset: 12,
                    expected: 30,
                    ..
                },
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("shard 1 (shard-00001.hv)"), "{e}");
    std::fs::write(&p, v1.replace("shard-00002.hv", "../x.hv"))?;
    assert!(matches!(
        ShardManifest::load(&p),
        Err(ShardError::ManifestInvalid {
            problem: ManifestProblem::BadFile { index: 2, .. },
            ..
        })
    ));
    std::fs::write(&p, v1.replace("\"total\": 90", "\"total\": 91"))?;
    assert!(matches!(
        ShardManifest::load(&p),
        Err(ShardError::ManifestInvalid {
            problem: ManifestProblem::TotalMismatch { total: 91, sum: 90 },
            ..
        })
    ));
    std::fs::write(&p, v1.replace("2048", "1024"))?;
    assert!(matches!(
        ShardManifest::load(&p),
        Err(ShardError::ManifestInvalid {
            problem: ManifestProblem::WrongDimension { dim: 1024, .. },
            ..
        })
    ));
    std::fs::write(&p, &v1[..40])?;
    assert!(matches!(ShardManifest::load(&p), Err(ShardError::ManifestParse { .. })));
    assert!(matches!(
        ShardManifest::load(dir.path().join("none.json")),
        Err(ShardError::Hv(HvError::Buffer(zc_buffers::BufferError::Io { .. })))
    ));
    // the temporary file of the atomic save is gone
    let left: Vec<_> = std::fs::read_dir(dir.path().join("sh"))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(left.is_empty());
    Ok(())
}

#[test]
fn rolling_writer_continues_and_recovers_a_crashed_append() -> R {
    let dir = tempfile::tempdir()?;
    let man = dir.path().join("out/shards.json");
    let vs: Vec<HV16> = (0..333).map(|i| HV16::random(i + 7)).collect();
    let mut w = ShardWriter::create(&man, 70, "g2")?;
    w.set_durability(Durability::NoSync);
    let mut starts = vec![];
    for part in vs[..250].chunks(37) {
        starts.push(w.append(part)?);
    }
    assert_eq!(starts, (0..250).step_by(37).collect::<Vec<_>>());
    // a crash: the writer is gone without finish; the manifest of the last append stands
    drop(w);
    assert_eq!(ShardSet::open(&man)?.len(), 250);
    assert!(matches!(
        ShardWriter::open_rw(&man, 70, "other"),
        Err(ShardError::GeneratorMismatch { .. })
    ));
    assert!(matches!(
        ShardWriter::create(&man, 0, "g2"),
        Err(ShardError::ZeroShardSize)
    ));
    let mut w = ShardWriter::open_rw(&man, 70, "g2")?;
    assert_eq!(w.append(&vs[250..300])?, 250);
    let m = w.finish()?;
    assert_eq!(
        m.shards.iter().map(|s| s.count).collect::<Vec<_>>(),
        [70, 70, 70, 70, 20]
    );

    // a crash between a shard append and the manifest rewrite
    let mut last = HvStore::open_rw(dir.path().join("out/shard-00004.hv"))?;
    last.append(&vs[300..310])?;
    drop(last);
    let e = ShardSet::open(&man).unwrap_err();
    assert!(
        matches!(
            e,
            ShardError::CountMismatch {
                index: 4,
                found: 30,
                expected: 20,
                ..
            }
        ),
        "{e:?}"
    );
    let mut w = ShardWriter::open_rw(&man, 70, "g2")?;
    assert_eq!(w.len(), 310); // the committed tail is kept
    w.append(&vs[310..])?;
    w.finish()?;
    let set = ShardSet::open(&man)?;
    assert_eq!(
        set.manifest().shards.iter().map(|s| s.count).collect::<Vec<_>>(),
        [70, 70, 70, 70, 53]
    );
    let q = [vs[5], vs[320], HV16::random(99)];
    assert_eq!(set.search(&q, 9, 1)?, single_top_k(&vs, &q, 9)?);

    // a second writer on the same set fails on the shared shard's lock
    let _w1 = ShardWriter::open_rw(&man, 70, "g2")?;
    let e = ShardWriter::open_rw(&man, 70, "g2").unwrap_err();
    assert!(
        matches!(
            e,
            ShardError::Shard {
                index: 4,
                source: HvError::Locked { .. },
                ..
            }
        ),
        "{e:?}"
    );
    Ok(())
}
