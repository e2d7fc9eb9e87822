//! Builds a C file into a shared library with the system C compiler, for the
//! tests that run a crate against a simulated runtime (zc-cuda's
//! `tests/fake_cuda.c` as `libcuda.so`, zc-npu's `tests/fake_xrt.c` as a fake
//! `libxrt_coreutil`). Included by each crate's `tests/support/mod.rs` with
//! `#[path]`; what is particular to a crate (library names, environment
//! variables, the simulator's controls) stays in that module.
//!
//! The compiler is the one the `cc` crate finds (honouring `CC` and
//! `CFLAGS`), or plain `cc` when it finds none. Every file is written under a
//! temporary name that holds the process id and then renamed into place, so
//! concurrent test binaries never load a half-written library.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The flags every simulated runtime is built with: a position-independent
/// shared library, lightly optimised, thread-safe, with warnings on.
const BASE_FLAGS: [&str; 5] = ["-shared", "-fPIC", "-O1", "-pthread", "-Wall"];

/// The file stem of the running test binary (`gpu-1a2b…`), so that each test
/// binary builds its own copy and parallel `cargo test` runs do not race.
pub fn test_binary_stem() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "test".to_string())
}

fn target_triple() -> String {
    let arch = std::env::consts::ARCH;
    match std::env::consts::OS {
        "macos" => format!("{arch}-apple-darwin"),
        "windows" => format!("{arch}-pc-windows-msvc"),
        _ => format!("{arch}-unknown-linux-gnu"),
    }
}

/// The C compiler as a command with no arguments yet.
fn compiler() -> Command {
    let triple = target_triple();
    cc::Build::new()
        .target(&triple)
        .host(&triple)
        .opt_level(1)
        .cargo_metadata(false)
        .cargo_warnings(false)
        .try_get_compiler()
        .map(|c| c.to_command())
        .unwrap_or_else(|_| Command::new("cc"))
}

/// `path` with `.<pid>.tmp` appended: the name a file is written under
/// before it is renamed into place.
fn temp_name(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{}.tmp", std::process::id()));
    PathBuf::from(name)
}

/// Create `dir` (and its parents) and return it.
pub fn create_dir(dir: PathBuf) -> Result<PathBuf, String> {
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    Ok(dir)
}

/// Compile the C file `src` into the shared library `out` with
/// [`BASE_FLAGS`] followed by `extra_args` (more warnings, `-D` defines),
/// replacing `out` atomically. The error holds the compiler's output.
pub fn compile_shared(src: &Path, out: &Path, extra_args: &[&str]) -> Result<(), String> {
    let tmp = temp_name(out);
    let mut cmd = compiler();
    cmd.args(BASE_FLAGS).args(extra_args).arg("-o").arg(&tmp).arg(src);
    let output = cmd
        .output()
        .map_err(|e| format!("cannot run the C compiler ({cmd:?}): {e}"))?;
    if !output.status.success() {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!(
            "compiling {} failed ({}):\n{}",
            src.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    std::fs::rename(&tmp, out).map_err(|e| format!("move {} into place: {e}", out.display()))
}

/// Copy `from` to `to`, replacing `to` atomically (for a library the loader
/// looks for under a second name).
pub fn copy_into_place(from: &Path, to: &Path) -> Result<(), String> {
    let tmp = temp_name(to);
    std::fs::copy(from, &tmp).map_err(|e| format!("copy {} to {}: {e}", from.display(), tmp.display()))?;
    std::fs::rename(&tmp, to).map_err(|e| format!("move {} into place: {e}", to.display()))
}
