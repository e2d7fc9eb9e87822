//! The `hvstore` example's commands, run in-process: its argument parsing
//! and its JSON, for store paths that `{:?}` used to turn into invalid JSON
//! (control characters, combining accents, no-break spaces, quotes).

#[allow(dead_code)]
#[path = "../examples/hvstore.rs"]
mod hvstore;

use clap::Parser;
use hvstore::{Cli, run};

fn run_json(args: &[&str]) -> Vec<serde_json::Value> {
    let cli = Cli::try_parse_from(args).unwrap();
    let mut out = Vec::new();
    run(cli, &mut out).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn info_prints_valid_json_for_awkward_paths() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "plain.hv16",
        "ctl\u{1}\u{7f}\ttab\nnewline.hv16",
        "e\u{301}te\u{301} combining.hv16",
        "nbsp\u{a0}here.hv16",
        "quote\"back\\slash.hv16",
    ] {
        let p = dir.path().join(name);
        let ps = p.to_str().unwrap();
        let built = run_json(&["hvstore", "build", ps, "--random", "300", "--seed", "5", "--no-fsync"]);
        assert_eq!(built.len(), 1);
        assert_eq!(built[0]["path"], ps, "{name:?}");
        assert_eq!(built[0]["count"], 300);
        let appended = run_json(&["hvstore", "append", ps, "--random", "20", "--seed", "300"]);
        assert_eq!(appended[0]["count"], 320);
        let info = run_json(&["hvstore", "info", ps]);
        assert_eq!(info[0]["path"], ps, "{name:?}");
        assert_eq!(info[0]["count"], 320);
        assert_eq!(info[0]["version"], 2);
        assert_eq!(info[0]["dimension"], 2048);
        assert_eq!(info[0]["generator"], 1);
        assert_eq!(info[0]["data_checksum"].as_str().map(str::len), Some(16));
    }
}

#[test]
fn search_prints_one_json_hit_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.hv16");
    let ps = p.to_str().unwrap();
    run_json(&["hvstore", "build", ps, "--random", "1000", "--seed", "0", "--no-fsync"]);
    for threads in ["1", "0", "3"] {
        let hits = run_json(&[
            "hvstore",
            "search",
            ps,
            "--query-seed",
            "123",
            "--flip",
            "0.1",
            "--k",
            "4",
            "--threads",
            threads,
            "--simd",
            "portable",
        ]);
        assert_eq!(hits.len(), 4);
        assert_eq!(hits[0]["index"], 123);
        assert_eq!(hits[0]["distance"], 205);
        assert!(
            hits.windows(2)
                .all(|w| w[0]["distance"].as_u64() <= w[1]["distance"].as_u64())
        );
    }
    assert!(
        Cli::try_parse_from([
            "hvstore",
            "search",
            ps,
            "--k",
            "1",
            "--query-seed",
            "1",
            "--simd",
            "neon9"
        ])
        .is_err()
    );
    assert!(Cli::try_parse_from(["hvstore", "frobnicate", ps]).is_err());
}
