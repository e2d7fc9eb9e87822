//! Test support for the simulated CUDA driver (`tests/fake_cuda.c`).
//!
//! cudarc loads `libcuda` by name, and the dynamic loader reads
//! `LD_LIBRARY_PATH` once at process start, so a test that needs the
//! simulator re-runs itself in a child process (the same test binary, that
//! one test, `--exact`) whose `LD_LIBRARY_PATH` starts with a directory
//! holding the simulator built as `libcuda.so` / `libcuda.so.1`. Inside the
//! child, [`fake`] gives the simulator's `zc_fake_cuda_*` controls.
//!
//! `ZC_FAKE_CUDA_LIB=/path/libcuda.so` uses a prebuilt simulator instead of
//! compiling one (for a bundle run on a machine without a C compiler).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::{CString, c_char, c_int};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

#[path = "../../../../tests/support/shared_c_lib.rs"]
mod shared_c_lib;

/// Set in the child process that runs against the simulator.
pub const CHILD_ENV: &str = "ZC_FAKE_CUDA_CHILD";

/// True inside the child process (the simulator is the loaded libcuda).
pub fn in_simulator() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

/// Build `tests/fake_cuda.c` into `dir` under both names cudarc tries,
/// `libcuda.so.1` and `libcuda.so`.
fn compile(dir: &Path) -> Result<(), String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("fake_cuda.c");
    let so1 = dir.join("libcuda.so.1");
    shared_c_lib::compile_shared(&src, &so1, &["-Wextra", "-Werror"])?;
    shared_c_lib::copy_into_place(&so1, &dir.join("libcuda.so"))
}

/// The directory holding the simulator as `libcuda.so` and `libcuda.so.1`
/// (built once per test binary), or why there is none.
pub fn simulator_dir() -> Result<&'static Path, String> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(lib) = std::env::var_os("ZC_FAKE_CUDA_LIB") {
            let lib = PathBuf::from(lib);
            return lib
                .parent()
                .filter(|d| d.join("libcuda.so").is_file())
                .map(Path::to_path_buf)
                .ok_or_else(|| format!("ZC_FAKE_CUDA_LIB={} is not a libcuda.so", lib.display()));
        }
        let dir = shared_c_lib::create_dir(
            Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join("zc-cuda-fake")
                .join(shared_c_lib::test_binary_stem()),
        )?;
        compile(&dir)?;
        Ok(dir)
    })
    .as_ref()
    .map(PathBuf::as_path)
    .map_err(Clone::clone)
}

/// What a child run left: its output and the simulator's exit report.
#[derive(Debug)]
pub struct ChildRun {
    /// stdout and stderr of the child.
    pub output: String,
    /// The simulator's counters at exit (`free_in_use`, `leaked`, …,
    /// `live_at_exit`).
    pub counters: BTreeMap<String, i64>,
}

impl ChildRun {
    /// A counter from the report (0 when absent).
    pub fn count(&self, name: &str) -> i64 {
        self.counters.get(name).copied().unwrap_or(0)
    }

    /// Every strict check passed: no hazard, leak or unsupported call.
    pub fn assert_clean(&self, test: &str) {
        for (k, v) in &self.counters {
            if k != "injected" && k != "live_at_exit" {
                assert_eq!(*v, 0, "{test}: the simulator counted {k} = {v}\n{}", self.output);
            }
        }
    }
}

/// Run test `test` of this binary in a child process against the
/// simulator, with `env` added; panics unless exactly that test ran and
/// passed.
pub fn run_in_child(test: &str, env: &[(&str, &str)]) -> ChildRun {
    let dir = simulator_dir().unwrap_or_else(|e| panic!("{test}: no simulated CUDA driver: {e}"));
    let report = std::env::temp_dir().join(format!("zc-fake-cuda-{}-{}.report", std::process::id(), test));
    let mut ld = dir.as_os_str().to_owned();
    if let Some(old) = std::env::var_os("LD_LIBRARY_PATH") {
        ld.push(":");
        ld.push(old);
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = Command::new(exe);
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env("LD_LIBRARY_PATH", ld)
        .env(CHILD_ENV, "1")
        .env("FAKE_CUDA_REPORT", &report);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the test binary in a child process");
    let output = format!(
        "--- child stdout ---\n{}\n--- child stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{test} failed against the simulator:\n{output}");
    assert!(
        output.contains("test result: ok. 1 passed"),
        "{test}: the child did not run exactly this test:\n{output}"
    );
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    let _ = std::fs::remove_file(&report);
    let counters: BTreeMap<String, i64> = text
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect();
    assert!(
        counters.contains_key("leaked"),
        "{test}: no simulator report:\n{output}"
    );
    ChildRun { output, counters }
}

/// For a test that needs the simulator: true inside the child (run the
/// body); otherwise run the test in a child with `env` and return false.
/// With a real driver and no way to build the simulator, prints why and
/// returns false.
pub fn simulated(test: &str, env: &[(&str, &str)]) -> bool {
    if in_simulator() {
        assert!(zc_cuda::available(), "{test}: the simulated libcuda did not load");
        return true;
    }
    if let Err(e) = simulator_dir()
        && zc_cuda::driver_present()
    {
        println!("skipping {test}: a real driver is present and the simulator cannot be built ({e})");
        return false;
    }
    run_in_child(test, env);
    false
}

type CountFn = unsafe extern "C" fn(*const c_char) -> i64;
type FailFn = unsafe extern "C" fn(*const c_char, i64, c_int);
type PauseFn = unsafe extern "C" fn(c_int);
type LogFn = unsafe extern "C" fn(*mut c_char, usize) -> usize;

/// The simulator's own controls, resolved from the libcuda cudarc loaded.
pub struct Fake {
    count: CountFn,
    calls: CountFn,
    fail: FailFn,
    pause: PauseFn,
    log: LogFn,
}

/// The controls (only inside the child, where the simulator is libcuda).
pub fn fake() -> &'static Fake {
    static FAKE: OnceLock<Fake> = OnceLock::new();
    FAKE.get_or_init(|| {
        assert!(
            in_simulator() && zc_cuda::available(),
            "fake() needs the simulated driver"
        );
        // SAFETY: cudarc has loaded libcuda (available() is true) and keeps
        // it loaded for the life of the process; the function types match
        // the C definitions in tests/fake_cuda.c.
        unsafe {
            let lib = cudarc::driver::sys::culib();
            Fake {
                count: *lib.get::<CountFn>(b"zc_fake_cuda_count").expect("zc_fake_cuda_count"),
                calls: *lib.get::<CountFn>(b"zc_fake_cuda_calls").expect("zc_fake_cuda_calls"),
                fail: *lib.get::<FailFn>(b"zc_fake_cuda_fail").expect("zc_fake_cuda_fail"),
                pause: *lib.get::<PauseFn>(b"zc_fake_cuda_pause").expect("zc_fake_cuda_pause"),
                log: *lib.get::<LogFn>(b"zc_fake_cuda_log").expect("zc_fake_cuda_log"),
            }
        }
    })
}

impl Fake {
    /// A strict-check counter (`free_in_use`, `unregister_in_use`,
    /// `pageable_async`, `host_touched`, `double_free`, `wrong_context`,
    /// `bad_pointer`, `leaked`, `unsupported`, `injected`,
    /// `live_allocations`).
    pub fn count(&self, name: &str) -> i64 {
        let c = CString::new(name).expect("no NUL");
        // SAFETY: a NUL-terminated string the callee only reads.
        let v = unsafe { (self.count)(c.as_ptr()) };
        assert!(v >= 0, "unknown simulator counter {name}");
        v
    }

    /// How many times the entry point `function` was called.
    pub fn calls(&self, function: &str) -> i64 {
        let c = CString::new(function).expect("no NUL");
        // SAFETY: as in `count`.
        unsafe { (self.calls)(c.as_ptr()) }
    }

    /// Make the `nth` next call of `function` return `code`.
    pub fn fail(&self, function: &str, nth: i64, code: i32) {
        let c = CString::new(function).expect("no NUL");
        // SAFETY: as in `count`.
        unsafe { (self.fail)(c.as_ptr(), nth, code) }
    }

    /// Hold (true) or release (false) every stream's queued work.
    pub fn pause(&self, paused: bool) {
        // SAFETY: takes a plain int.
        unsafe { (self.pause)(c_int::from(paused)) }
    }

    /// The call log so far.
    pub fn log(&self) -> String {
        // SAFETY: a null buffer only asks for the length.
        let len = unsafe { (self.log)(std::ptr::null_mut(), 0) };
        let mut buf = vec![0u8; len + 1];
        // SAFETY: buf holds len + 1 bytes.
        let len = unsafe { (self.log)(buf.as_mut_ptr().cast(), buf.len()) }.min(len);
        buf.truncate(len);
        String::from_utf8_lossy(&buf).into_owned()
    }
}
