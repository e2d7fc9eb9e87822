"""zc.ray.mel on a local Ray cluster (2 CPUs, no dashboard, no usage statistics)."""

import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from zc import mel  # noqa: E402
from zc.ray import mel as rmel  # noqa: E402


@pytest.fixture(scope="session")
def cluster():
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False)
    yield ray


def write_wav(path, x, rate=16000):
    data = np.asarray(x, "<f4").tobytes()
    fmt = struct.pack("<IHHIIHH", 16, 3, 1, rate, rate * 4, 4, 32)
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE" + b"fmt " + fmt)
        f.write(b"data" + struct.pack("<I", len(data)) + data)


def make_corpus(d, n, seed=0):
    rng = np.random.default_rng(seed)
    d.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        # lengths not a multiple of the hop, some shorter than one window
        length = int(rng.integers(100, 16000 * 3))
        p = d / f"clip{i:03d}.wav"
        write_wav(p, (rng.standard_normal(length) * 0.1).astype(np.float32))
        paths.append(str(p))
    return paths


def assert_bit_exact(out_dir, path, n_mels=80):
    got = rmel.load_features(out_dir, path)
    ref = mel.log_mel(mel.load_wav(path), n_mels=n_mels)
    assert got.shape == ref.shape and got.dtype == ref.dtype == np.float32
    assert np.array_equal(np.ascontiguousarray(got).view(np.uint32), ref.view(np.uint32)), path


def manifest_lines(out_dir):
    with open(os.path.join(out_dir, rmel.MANIFEST)) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_import_zc_does_not_import_ray():
    code = "import sys, zc, zc.ray; assert 'ray' not in sys.modules, 'ray imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_features_bit_exact_corrupt_files_recorded_and_resume(cluster, tmp_path):
    paths = make_corpus(tmp_path / "in", 11)
    bad = tmp_path / "in" / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    trunc = tmp_path / "in" / "truncated.wav"
    trunc.write_bytes(open(paths[0], "rb").read()[:1000])  # header declares more data than held
    out = tmp_path / "out"

    s = rmel.extract(str(tmp_path / "in" / "*.wav"), out, files_per_shard=3, num_workers=2, progress=False)
    assert (s.files, s.processed, s.ok, s.failed, s.skipped) == (13, 13, 11, 2, 0)
    expect_seconds = sum(mel.load_wav(p).size for p in paths) / 16000
    assert s.audio_seconds == pytest.approx(expect_seconds)
    for p in paths:
        assert_bit_exact(out, p)
    recs = rmel.read_manifest(out)
    assert len(recs) == 13 and len(manifest_lines(out)) == 13
    for p, word in ((bad, "not a valid WAV"), (trunc, "truncated")):
        r = recs[str(p)]
        assert r["status"] == "failed" and "FileFormatError" in r["error"] and word in r["error"], r
        assert r["shard"] is None and r["frames"] == 0
    shards = sorted(f for f in os.listdir(out) if f.endswith(".npy"))
    assert len(shards) >= 4  # 11 good files, 3 per batch
    assert not [f for f in os.listdir(out) if f.endswith(".tmp")]
    # every shard is fully covered by its records, in order
    for sh in shards:
        rows = sorted((r["offset"], r["frames"]) for r in recs.values() if r["shard"] == sh)
        assert rows[0][0] == 0
        assert all(a[0] + a[1] == b[0] for a, b in zip(rows, rows[1:]))
        assert rows[-1][0] + rows[-1][1] == np.load(out / sh, mmap_mode="r").shape[0]
    mtimes = {sh: os.stat(out / sh).st_mtime_ns for sh in shards}

    # resume: nothing new to do (failed files are skipped too), nothing rewritten
    s2 = rmel.extract(str(tmp_path / "in" / "*.wav"), out, files_per_shard=3, progress=False)
    assert (s2.processed, s2.skipped) == (0, 13)
    assert len(manifest_lines(out)) == 13
    assert {sh: os.stat(out / sh).st_mtime_ns for sh in shards} == mtimes

    # new files: only they are processed; failed files again only when asked
    more = make_corpus(tmp_path / "in" / "more", 2, seed=5)
    s3 = rmel.extract([tmp_path / "in"], out, retry_failed=True, progress=False)
    assert (s3.files, s3.processed, s3.ok, s3.failed, s3.skipped) == (15, 4, 2, 2, 11)
    for p in more + paths:
        assert_bit_exact(out, p)

    with pytest.raises(ValueError, match="80-mel"):
        rmel.extract(paths, out, n_mels=128, progress=False)


def test_128_mels_and_cli(cluster, tmp_path, capsys):
    paths = make_corpus(tmp_path / "in", 3, seed=3)
    rc = rmel.main([str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--n-mels", "128", "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "files: 3 (3 processed: 3 ok, 0 failed" in text and "real-time factor" in text
    for p in paths:
        assert_bit_exact(tmp_path / "o", p, n_mels=128)
    (tmp_path / "in" / "z.wav").write_bytes(b"nope")
    assert rmel.main([str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--n-mels", "128", "--no-progress"]) == 1


def _descendant_pids(root):
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    parent[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    out, frontier = set(), {root}
    while frontier:
        frontier = {p for p, pp in parent.items() if pp in frontier} - out
        out |= frontier
    return out


def _mel_worker_pids():
    pids = []
    for pid in _descendant_pids(os.getpid()):  # only processes this test session started
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"MelBatch" in f.read():
                    pids.append(pid)
        except OSError:
            pass
    return pids


def test_killed_worker_loses_no_completed_output_and_job_completes(cluster, tmp_path):
    paths = make_corpus(tmp_path / "in", 8, seed=7)
    # a FIFO stands in for a slow file: the worker that opens it blocks inside
    # load_wav until it is killed, deterministically in the middle of the run
    stuck = str(tmp_path / "in" / "clip003.wav")
    real = tmp_path / "real003.wav"
    os.replace(stuck, real)
    os.mkfifo(stuck)
    out = tmp_path / "out"
    result, killed = {}, []

    def run():
        try:
            result["s"] = rmel.extract(paths, out, files_per_shard=1, num_workers=2, progress=False)
        except BaseException as e:  # reported below
            result["e"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    # wait until the manifest stops growing: every file not queued behind the
    # stuck worker is done, the stuck one (and maybe a few behind it) is in flight
    deadline, last, stable_since = time.time() + 120, -1, time.time()
    while time.time() < deadline:
        n = len(rmel.read_manifest(out))  # tolerates a line being written
        if n != last:
            last, stable_since = n, time.time()
        elif n > 0 and time.time() - stable_since > 3 and _mel_worker_pids():
            break
        time.sleep(0.2)
    before = manifest_lines(out)
    assert 1 <= len(before) < 8 and stuck not in {r["file"] for r in before}
    before_bytes = {r["file"]: np.array(rmel.load_features(out, r["file"])) for r in before}
    os.replace(real, stuck)  # the blocked open already holds the FIFO; the retry reads the real file
    for pid in _mel_worker_pids():
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)
    t.join(180)
    assert not t.is_alive()
    assert killed, "no mel worker process found to kill"
    assert "e" not in result, result.get("e")
    s = result["s"]
    # Ray restarted the actor and retried the batch of the killed worker
    assert s.ok == 8 and s.failed == 0
    after = manifest_lines(out)
    assert len(after) == 8 and after[: len(before)] == before  # completed output kept as it was
    for f, arr in before_bytes.items():
        assert np.array_equal(rmel.load_features(out, f), arr)
    for p in paths:
        assert_bit_exact(out, p)
    # and a rerun has nothing left to do
    s2 = rmel.extract(paths, out, progress=False)
    assert (s2.processed, s2.skipped) == (0, 8)


def test_killed_driver_resumes_without_redoing_completed_files(cluster, tmp_path):
    """The CLI joins this test's cluster (--address), is SIGKILLed mid-run, and a new
    run picks up exactly the files that are not in the manifest."""
    paths = make_corpus(tmp_path / "in", 8, seed=11)
    stuck = paths[5]
    real = tmp_path / "real.wav"
    os.replace(stuck, real)
    os.mkfifo(stuck)  # the worker that opens it blocks: the driver is mid-run when killed
    out = tmp_path / "out"
    address = ray.get_runtime_context().gcs_address
    cmd = [sys.executable, "-m", "zc.ray.mel", str(tmp_path / "in"), "--out", str(out),
           "--address", address, "--files-per-shard", "1", "--workers", "2", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, last, stable_since = time.time() + 120, -1, time.time()
        while time.time() < deadline and proc.poll() is None:
            n = len(rmel.read_manifest(out))
            if n != last:
                last, stable_since = n, time.time()
            elif n > 0 and time.time() - stable_since > 3:
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the driver finished before it could be killed"
    finally:
        proc.kill()
        proc.wait()
    # let the orphaned worker out of the FIFO (if Ray has not killed it already):
    # open it for writing, put the real file at the path, close -> the reader sees EOF
    try:
        fd = os.open(stuck, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        fd = None
    os.replace(real, stuck)
    if fd is not None:
        os.close(fd)
    before = manifest_lines(out)
    assert 1 <= len(before) < 8 and stuck not in {r["file"] for r in before}
    assert all(r["status"] == "ok" for r in before)
    s = rmel.extract(str(tmp_path / "in"), out, progress=False)
    assert (s.skipped, s.processed, s.ok) == (len(before), 8 - len(before), 8 - len(before))
    after = manifest_lines(out)
    assert len(after) == 8 and after[: len(before)] == before
    for p in paths:
        assert_bit_exact(out, p)
