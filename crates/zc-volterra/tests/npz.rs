//! NPZ files in the py-volterra layout: files written by numpy (as
//! py-volterra's `to_npz` does) load, and our files round-trip (and are read
//! back by numpy in `numpy_reads_our_npz`, when python3+numpy exist).

use std::io::Cursor;

use zc_volterra::Kernel;
use zc_volterra::npz::{load_npz, read_npz, save_npz, write_npz};

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
fn corrupt_files_are_errors() {
    assert!(read_npz(Cursor::new(b"not a zip".to_vec())).is_err());
    assert!(load_npz(data("does_not_exist.npz")).is_err());
    let mut bytes = std::fs::read(data("pyvolterra_diag_N6.npz")).expect("read");
    let mid = bytes.len() / 2;
    bytes.truncate(mid);
    assert!(read_npz(Cursor::new(bytes)).is_err());
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
