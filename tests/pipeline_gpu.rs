//! The pipeline example's GPU stage, run against zc-cuda's simulated driver
//! (`crates/zc-cuda/tests/fake_cuda.c`) on machines without a GPU: the stage
//! must run (not skip), copy exactly the mel once host→device, and leave the
//! simulator's strict checks (hazards, leaks, unsupported calls) at zero.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `target/<profile>/examples/pipeline`, built by `cargo test` next to this
/// test's own binary in `target/<profile>/deps/`.
fn example_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?.parent()?;
    let p = profile_dir.join("examples").join("pipeline");
    p.is_file().then_some(p)
}

fn build_simulator(dir: &Path) -> Result<(), String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/zc-cuda/tests/fake_cuda.c");
    let lib = dir.join("libcuda.so");
    let out = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-pthread", "-o"])
        .arg(&lib)
        .arg(&src)
        .output()
        .map_err(|e| format!("cannot run cc: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    std::fs::copy(&lib, dir.join("libcuda.so.1")).map_err(|e| e.to_string())?;
    Ok(())
}

#[test]
fn the_gpu_stage_uploads_the_mel_once_against_the_simulator() {
    if zc::cuda::available() {
        eprintln!("a real CUDA driver is present: the pipeline example runs against it; nothing to simulate");
        return;
    }
    let Some(bin) = example_binary() else {
        panic!("examples/pipeline was not built next to this test (cargo test builds examples)");
    };
    let dir = tempfile::tempdir().unwrap();
    if let Err(e) = build_simulator(dir.path()) {
        eprintln!("skipping: no C compiler for the simulated driver: {e}");
        return;
    }
    let report = dir.path().join("fake-cuda-report.txt");
    let out = Command::new(&bin)
        .args(["--json", "--store"])
        .arg(dir.path().join("classes.hv"))
        .env("LD_LIBRARY_PATH", dir.path())
        .env("FAKE_CUDA_REPORT", &report)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pipeline failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run: serde_json::Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .expect("a JSON line");
    let stages = run["stages"].as_array().expect("stages");
    let stage = |prefix: &str| {
        stages
            .iter()
            .find(|s| s["stage"].as_str().is_some_and(|n| n.starts_with(prefix)))
            .unwrap_or_else(|| panic!("no stage {prefix} in {stdout}"))
    };
    let gpu = stage("6a");
    let mel = stage("3");
    let mel_bytes = 80 * 3000 * 4;
    assert_eq!(gpu["bytes_in"], mel_bytes, "{gpu}");
    assert_eq!(gpu["copies"], 1, "exactly one host→device transfer: {gpu}");
    assert_eq!(gpu["bytes_copied"], mel_bytes, "{gpu}");
    assert_eq!(mel["bytes_copied"], 0, "{mel}");
    assert!(
        !gpu["note"].as_str().unwrap_or("").starts_with("skipped"),
        "the GPU stage must run against the simulator: {gpu}"
    );

    let counts = std::fs::read_to_string(&report).expect("the simulator writes its report at exit");
    for line in counts.lines() {
        let mut f = line.split_whitespace();
        let (Some(name), Some(n)) = (f.next(), f.next()) else {
            continue;
        };
        if name == "injected" {
            continue;
        }
        assert_eq!(n, "0", "simulator counter {name} = {n}:\n{counts}");
    }
    assert!(counts.contains("live_at_exit"), "{counts}");
}
