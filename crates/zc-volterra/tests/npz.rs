//! NPZ files in the py-volterra layout: files written by numpy (as
//! py-volterra's `to_npz` does) load, and our files round-trip (and are read
//! back by numpy in `numpy_reads_our_npz`, when python3+numpy exist).

use std::io::Cursor;

use zc_volterra::npz::{load_npz, read_npz, save_npz, write_npz};
use zc_volterra::{Kernel, NpzError, VolterraError};

fn data(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn reads_numpy_savez_compressed_diagonal() {
    let k = load_npz(data("pyvolterra_diag_N6.npz")).expect("load");
    let taps = |c: f64, r: f64| (0..6).map(|i| c * r.powi(i)).collect::<Vec<f64>>();
    assert_eq!(k.taps(1), taps(1.0, 0.5).as_slice());
    assert_eq!(k.taps(2), taps(0.1, -0.5).as_slice());
    assert_eq!(k.taps(3), taps(0.01, 0.25).as_slice());
    assert_eq!(k.taps(4), taps(0.001, -0.25).as_slice());
    assert_eq!(k.taps(5), taps(0.0005, 0.75).as_slice());
    assert!(k.full_h2().is_none());
}

#[test]
fn reads_full_h2_and_stored_f32() {
    let k = load_npz(data("pyvolterra_full_h2_N4.npz")).expect("load");
    let (n, h) = k.full_h2().expect("full h2");
    assert_eq!(n, 4);
    assert_eq!(h[1], 0.1 * 0.5 * 0.5);
    assert!(k.taps(2).is_empty());
    let k = load_npz(data("pyvolterra_h1_only_stored.npz")).expect("load");
    assert_eq!(k.taps(1), &[1.0, -0.5]);
    assert_eq!(k.max_order(), 1);
}

#[test]
fn roundtrip_pads_to_common_length() {
    let k = Kernel::from_taps([vec![1.0, 0.5, 0.25], vec![0.1], vec![], vec![0.0, 0.01]]).expect("kernel");
    let mut buf = Cursor::new(Vec::new());
    write_npz(&k, &mut buf).expect("write");
    buf.set_position(0);
    let back = read_npz(buf).expect("read");
    assert_eq!(back.taps(1), k.taps(1));
    assert_eq!(back.taps(2), &[0.1, 0.0, 0.0]);
    assert!(back.taps(3).is_empty());
    assert_eq!(back.taps(4), &[0.0, 0.01, 0.0]);

    // Full H2 plus diagonal h2 taps become one matrix.
    let k = Kernel::from_full_h2(&[1.0], 2, &[0.1, 0.2, 0.2, 0.3])
        .expect("k")
        .with_full_h2(2, &[0.1, 0.2, 0.2, 0.3]);
    let k = k.expect("k");
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("k.npz");
    save_npz(&k, &path).expect("save");
    let back = load_npz(&path).expect("load");
    assert_eq!(back.full_h2(), Some((2, &[0.1, 0.2, 0.2, 0.3][..])));
    assert_eq!(back.taps(1), &[1.0, 0.0]);
}

#[test]
fn corrupt_files_are_errors_naming_the_path() {
    let r = read_npz(Cursor::new(b"not a zip".to_vec()));
    assert!(
        matches!(
            r,
            Err(VolterraError::Npz {
                path: None,
                source: NpzError::Zip { .. }
            })
        ),
        "{r:?}"
    );
    let missing = data("does_not_exist.npz");
    let r = load_npz(&missing);
    assert!(
        matches!(&r, Err(VolterraError::Io { op: "open", path, source }) if path.to_str() == Some(missing.as_str()) && source.kind() == std::io::ErrorKind::NotFound),
        "{r:?}"
    );
    let mut bytes = std::fs::read(data("pyvolterra_diag_N6.npz")).expect("read");
    let mid = bytes.len() / 2;
    bytes.truncate(mid);
    assert!(read_npz(Cursor::new(bytes.clone())).is_err());
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("cut.npz");
    std::fs::write(&path, &bytes).expect("write");
    let r = load_npz(&path);
    assert!(
        matches!(&r, Err(VolterraError::Npz { path: Some(p), .. }) if *p == path),
        "{r:?}"
    );
    assert!(r.unwrap_err().to_string().contains("cut.npz"));
    // save into a directory that does not exist
    let k = Kernel::from_taps([vec![1.0]]).expect("k");
    let r = save_npz(&k, dir.path().join("no/such/dir.npz"));
    assert!(matches!(r, Err(VolterraError::Io { op: "create", .. })), "{r:?}");
}

/// A `.npy` member: little-endian f64 values or a bool scalar.
fn npy(descr: &str, shape: &[usize], body: &[u8]) -> Vec<u8> {
    let shape_s = match shape {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        s => format!("({})", s.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_s}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(body);
    out
}

fn f8(shape: &[usize]) -> Vec<u8> {
    let n: usize = shape.iter().product();
    let vals: Vec<u8> = (0..n)
        .flat_map(|i| {
            let (r, c) = if shape.len() == 2 {
                (i / shape[1], i % shape[1])
            } else {
                (i, i)
            };
            // symmetric for square matrices
            (0.1 / (1.0 + r as f64 + c as f64)).to_le_bytes()
        })
        .collect();
    npy("<f8", shape, &vals)
}

fn npz_of(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in members {
        zip.start_file(format!("{name}.npy"), zip::write::SimpleFileOptions::default())
            .expect("start");
        zip.write_all(bytes).expect("write");
    }
    zip.finish().expect("finish").into_inner()
}

/// `h2_is_diagonal` and the shape of `h2` must agree, both ways: every
/// combination of flag (absent, True, False) and h2 shape (absent, (N,),
/// (N, N), (N, M), 3-D).
#[test]
fn h2_flag_and_shape_are_checked_symmetrically() {
    #[derive(Debug, PartialEq)]
    enum Want {
        NoH2,
        Diagonal,
        Full,
        Refused(&'static str),
    }
    use Want::*;
    let flags: [Option<bool>; 3] = [None, Some(true), Some(false)];
    let shapes: [Option<&[usize]>; 5] = [None, Some(&[3]), Some(&[3, 3]), Some(&[3, 2]), Some(&[3, 3, 3])];
    for flag in flags {
        for shape in shapes {
            let want = match (flag, shape.map(<[usize]>::len)) {
                (_, None) => NoH2,
                (Some(true) | None, Some(1)) => Diagonal,
                (Some(false) | None, Some(2)) if shape == Some(&[3, 3]) => Full,
                (Some(true), _) => Refused("(N,) (h2_is_diagonal is True)"),
                (Some(false), _) => Refused("(N, N) (h2_is_diagonal is False)"),
                (None, _) => Refused("(N,) or (N, N)"),
            };
            let mut members = vec![("h1", f8(&[3]))];
            if let Some(f) = flag {
                members.push(("h2_is_diagonal", npy("|b1", &[], &[u8::from(f)])));
            }
            if let Some(s) = shape {
                members.push(("h2", f8(s)));
            }
            let r = read_npz(Cursor::new(npz_of(&members)));
            let ctx = format!("flag {flag:?} shape {shape:?}");
            match (&want, r) {
                (NoH2, Ok(k)) => assert!(k.taps(2).is_empty() && k.full_h2().is_none(), "{ctx}"),
                (Diagonal, Ok(k)) => assert!(k.taps(2).len() == 3 && k.full_h2().is_none(), "{ctx}"),
                (Full, Ok(k)) => assert!(k.taps(2).is_empty() && k.full_h2().map(|h| h.0) == Some(3), "{ctx}"),
                (
                    Refused(exp),
                    Err(VolterraError::Npz {
                        path: None,
                        source:
                            NpzError::Shape {
                                member: "h2",
                                expected,
                                actual,
                            },
                    }),
                ) => {
                    assert_eq!(*exp, expected, "{ctx}");
                    assert_eq!(Some(actual.as_slice()), shape, "{ctx}");
                }
                (w, r) => panic!("{ctx}: wanted {w:?}, got {r:?}"),
            }
        }
    }
    // a flag that is not a scalar, an h1 that is not 1-D
    let r = read_npz(Cursor::new(npz_of(&[("h1", f8(&[3])), ("h2_is_diagonal", f8(&[2]))])));
    assert!(
        matches!(
            r,
            Err(VolterraError::Npz {
                source: NpzError::Shape {
                    member: "h2_is_diagonal",
                    ..
                },
                ..
            })
        ),
        "{r:?}"
    );
    let r = read_npz(Cursor::new(npz_of(&[("h1", f8(&[3, 3]))])));
    assert!(
        matches!(&r, Err(VolterraError::Npz { source: NpzError::Shape { member: "h1", expected: "(N,)", actual }, .. }) if actual == &[3, 3]),
        "{r:?}"
    );
    // arrays that parse but are no kernel
    let nan = npy("<f8", &[1], &f64::NAN.to_le_bytes());
    let r = read_npz(Cursor::new(npz_of(&[("h1", nan)])));
    assert!(
        matches!(&r, Err(VolterraError::Npz { source: NpzError::Kernel { source }, .. }) if matches!(**source, VolterraError::NonFinite { index: 0, .. })),
        "{r:?}"
    );
    // a bad member names itself
    let r = read_npz(Cursor::new(npz_of(&[
        ("h1", f8(&[3])),
        ("h3_diagonal", b"junk".to_vec()),
    ])));
    assert!(
        matches!(
            r,
            Err(VolterraError::Npz {
                source: NpzError::BadMagic { member: "h3_diagonal" },
                ..
            })
        ),
        "{r:?}"
    );
}

#[test]
fn numpy_reads_our_npz() {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import numpy"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: python3 with numpy not available");
        return;
    }
    let k = Kernel::from_taps([vec![1.0, 0.5], vec![0.1], vec![0.01, 0.002]]).expect("kernel");
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("ours.npz");
    save_npz(&k, &path).expect("save");
    let script = "import numpy as np, sys; d = np.load(sys.argv[1]); \
        assert list(d['h1']) == [1.0, 0.5]; assert list(d['h2']) == [0.1, 0.0]; \
        assert bool(d['h2_is_diagonal']) is True; assert list(d['h3_diagonal']) == [0.01, 0.002]; \
        assert 'h4_diagonal' not in d";
    let st = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&path)
        .status()
        .expect("python3 runs");
    assert!(st.success(), "numpy rejected our npz");
}
