import numpy as np
import pytest

import zc
from zc import buffers, mel


# audio + out: each call records two borrows in rust-numpy's borrow table.
# The table is allocated by the first rust-numpy extension imported in the
# process (zc in this suite), so its allocations are counted here.
BORROW_ENTRIES = 2


def load(data, name):
    return np.fromfile(data / name, dtype=np.float32)


def test_log_mel_matches_reference_fixture(mel_data):
    audio = load(mel_data, "chirp_30s.f32")
    ref = load(mel_data, "chirp_30s.mel80.f32").reshape(80, -1)
    out = mel.log_mel(audio)
    assert out.dtype == np.float32 and out.shape == ref.shape == (80, 3000)
    assert np.abs(out - ref).max() < 5e-5


def test_log_mel_128_and_frames_layout(mel_data):
    audio = load(mel_data, "chirp_30s.f32")
    ref = load(mel_data, "chirp_30s.mel128.f32").reshape(128, -1)
    frames = mel.log_mel(audio, n_mels=128, layout="frames")
    assert frames.shape == (ref.shape[1], 128)
    assert np.abs(frames - ref.T).max() < 5e-5


def test_padding_matches_reference(mel_data):
    ref = load(mel_data, "speech_16k.padded.mel80.f32")
    audio = mel.load_wav(mel_data / "speech_16k.wav")
    assert audio.dtype == np.float32 and audio.ndim == 1
    plain = load(mel_data, "speech_16k.mel80.f32").reshape(80, -1)
    assert np.abs(mel.log_mel(audio) - plain).max() < 5e-5
    # whisper.pad_or_trim(audio) then log_mel: 3000 frames
    padded = mel.log_mel(audio, pad_to=mel.N_SAMPLES)
    assert padded.shape == (80, 3000) and padded.size == ref.size
    assert np.abs(padded.ravel() - ref).max() < 5e-5
    # padding=n appends n zeros (whisper.log_mel_spectrogram(audio, padding=n))
    appended = mel.log_mel(audio, padding=mel.N_SAMPLES)
    assert appended.shape == (80, (audio.size + mel.N_SAMPLES) // mel.HOP_LENGTH)


def test_out_writes_in_place_without_copy_or_kernel_allocation(mel_data):
    audio = load(mel_data, "chirp_30s.f32")
    ref = load(mel_data, "chirp_30s.mel80.f32").reshape(80, -1)
    out = np.empty((80, 3000), np.float32)
    mel.log_mel(audio, out=out)  # warm the plan cache
    out[:] = 0
    with buffers.ledger() as r, buffers.count_allocations() as a:
        res = mel.log_mel(audio, out=out)
    assert res is out
    assert np.abs(out - ref).max() < 5e-5
    assert r.copies == 0 and r.bytes_copied == 0
    assert r.allocations == 0 and r.bytes_allocated == 0
    assert a.kernel_allocations == 0
    # the binding's own heap traffic is rust-numpy's borrow table: one small
    # entry per borrowed array (audio and out), freed when the call returns;
    # no strings, nothing sized by the data (the 30 s output is 960 000 bytes)
    assert a.allocations == BORROW_ENTRIES == a.deallocations
    assert a.bytes_allocated <= 256 * BORROW_ENTRIES
    short = np.ascontiguousarray(audio[:16000])
    out2 = np.empty((80, 100), np.float32)
    mel.log_mel(short, out=out2)
    plan = mel.MelSpectrogram(80)
    plan(short, out=out2)
    with buffers.ledger(), buffers.count_allocations() as b:
        mel.log_mel(short, out=out2)
    with buffers.count_allocations() as c:
        plan(short, out=out2)
        plan(audio, out=out)
    # a 30 s clip and a 1 s clip, through log_mel and a plan: the same bytes
    assert b.kernel_allocations == 0 and c.kernel_allocations == 0
    assert (b.allocations, b.bytes_allocated) == (a.allocations, a.bytes_allocated)
    assert (c.allocations, c.bytes_allocated) == (2 * a.allocations, 2 * a.bytes_allocated)


def test_batch_heap_traffic_does_not_grow_with_clip_length(mel_data):
    audio = load(mel_data, "chirp_30s.f32")
    plan = mel.MelSpectrogram(80)
    counts = []
    for n in (16000, audio.size):
        # separate arrays: one borrow record each
        clips = [audio[i * 1000 : i * 1000 + n - 3000].copy() for i in range(3)]
        out = np.empty((3,) + plan.output_shape(clips[0].size), np.float32)
        plan.batch(clips, out=out)
        with buffers.ledger() as r, buffers.count_allocations() as a:
            plan.batch(clips, out=out)
        # zc-mel's batch into a view collects one view handle per item: one vector
        assert r.bytes_copied == 0 and a.kernel_allocations == 1
        counts.append((a.allocations, a.bytes_allocated))
    # the binding: three small vectors (the clips, their borrows, their
    # slices) and one borrow record per array (3 clips + out); none sized by
    # the audio, so a 1 s and a 30 s batch make exactly the same calls
    assert counts[0] == counts[1]
    assert counts[0][0] == 1 + 3 + (3 + 1) and counts[0][1] < 4096


def test_plan_reuse_and_threads(mel_data):
    audio = load(mel_data, "chirp_30s.f32")
    plan = mel.MelSpectrogram(80, threads=2)
    assert plan.output_shape(audio.size) == (80, 3000)
    assert np.array_equal(plan(audio), mel.log_mel(audio))
    f = plan.filters()
    ref = load(mel_data, "slaney_filters.mel80.f32").reshape(80, -1)
    assert f.shape == ref.shape and np.abs(f - ref).max() < 1e-6


def test_bad_inputs_raise_and_write_nothing(mel_data):
    audio = load(mel_data, "chirp_30s.f32")
    out = np.full((80, 3000), 7.0, np.float32)
    with pytest.raises(zc.DTypeError):
        mel.log_mel(audio.astype(np.float64), out=out)
    with pytest.raises(zc.CopyRequiredError, match="copy"):
        mel.log_mel(np.repeat(audio, 2)[::2], out=out)
    with pytest.raises(zc.ShapeError):
        mel.log_mel(audio, out=np.empty((80, 2999), np.float32))
    with pytest.raises(zc.DTypeError):
        mel.log_mel(audio, out=np.empty((80, 3000), np.float64))
    ro = np.empty((80, 3000), np.float32)
    ro.flags.writeable = False
    with pytest.raises(zc.ReadOnlyError):
        mel.log_mel(audio, out=ro)
    with pytest.raises(zc.CopyRequiredError):
        mel.log_mel(audio, out=np.empty((3000, 80), np.float32).T)
    # out= overlapping the input: refused by the borrow table before any write
    shared = audio.copy()
    with pytest.raises(zc.ZcValueError, match="also an input"):
        mel.log_mel(shared, out=shared[: 80 * 3000].reshape(80, 3000))
    assert np.array_equal(shared, audio)
    bad = audio.copy()
    bad[10] = np.nan
    with pytest.raises(zc.ZcValueError, match="not finite"):
        mel.log_mel(bad, out=out)
    with pytest.raises(ValueError):
        mel.log_mel(audio, layout="columns")
    assert (out == 7.0).all()  # nothing written on any error


def test_load_wav_errors(tmp_path):
    with pytest.raises(zc.ZcOSError):
        mel.load_wav(tmp_path / "missing.wav")
    p = tmp_path / "junk.wav"
    p.write_bytes(b"not a wav file at all, just bytes" * 4)
    with pytest.raises(zc.FileFormatError):
        mel.load_wav(p)
    with pytest.raises(OSError):
        mel.load_wav(p)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_one_plan_serves_several_python_threads(mel_data, n_threads):
    import threading

    audio = load(mel_data, "chirp_30s.f32")
    clips = [audio, np.ascontiguousarray(audio[: 3 * 16000])]
    plan = mel.MelSpectrogram(80, threads=n_threads)
    ref = mel.MelSpectrogram(80)(audio)
    frames_ref = plan(audio, layout="frames")
    batch_ref = mel.MelSpectrogram(80).batch(clips)
    assert np.array_equal(frames_ref, ref.T)
    results, errors = {}, []

    def work(i):
        try:
            if i % 3 == 2:
                results[i] = [plan.batch(clips) for _ in range(3)]
            else:
                layout = "frames" if i % 3 else "mel"
                out = np.empty(plan.output_shape(audio.size, layout), np.float32)
                results[i] = [plan(audio, layout=layout, out=out).copy() for _ in range(3)]
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 6
    for i, outs in results.items():
        want = (ref, frames_ref, batch_ref)[i % 3]
        for o in outs:
            assert np.array_equal(o, want)


def test_threads_are_bit_identical_to_one_thread(mel_data):
    audio = load(mel_data, "chirp_30s.f32")
    # 90 s plus an odd tail: several chunks per worker, a ragged last chunk
    long = np.concatenate([audio, audio[::-1], 0.5 * audio, audio[:12345]])
    one = mel.MelSpectrogram(80)
    two = mel.MelSpectrogram(80, threads=2)
    assert two.threads == 2 and one.threads == 1
    for layout in ("mel", "frames"):
        want = one(long, layout=layout)
        assert want.shape == two.output_shape(long.size, layout)
        assert np.array_equal(two(long, layout=layout), want)
        out = np.full(want.shape, 3.0, np.float32)
        assert two(long, layout=layout, out=out) is out
        assert np.array_equal(out, want)
    # padded plans and 128 mels, with more workers than cores
    for kw in ({"padding": mel.N_SAMPLES}, {"pad_to": mel.N_SAMPLES}):
        a = mel.MelSpectrogram(128, threads=1, **kw)(long)
        b = mel.MelSpectrogram(128, threads=3, **kw)(long)
        assert np.array_equal(a, b)
    # batches: items spread over the workers, global and per-item maximum
    clips = [long, audio, np.ascontiguousarray(audio[: 7 * 16000 + 123]), np.ascontiguousarray(long[-3 * 16000 :])]
    for per_item in (False, True):
        for layout in ("mel", "frames"):
            want = one.batch(clips, layout, per_item=per_item)
            assert np.array_equal(two.batch(clips, layout, per_item=per_item), want)
            out = np.zeros_like(want)
            assert two.batch(clips, layout, out=out, per_item=per_item) is out
            assert np.array_equal(out, want)


def test_batch_equals_single_calls_and_fills_corners(mel_data):
    audio = load(mel_data, "chirp_30s.f32")
    clips = [audio, np.ascontiguousarray(audio[:16000]), np.ascontiguousarray(audio[5 * 16000 : 12 * 16000])]
    plan = mel.MelSpectrogram(80, threads=2)
    per = plan.batch(clips, per_item=True)
    assert per.shape == (3, 80, 3000) and per.dtype == np.float32
    for i, c in enumerate(clips):
        one = mel.log_mel(c)
        assert np.array_equal(per[i, :, : one.shape[1]], one)
        assert (per[i, :, one.shape[1] :] == 0).all()
    # Whisper's batched call: one clamp maximum over the whole batch
    glob = plan.batch(clips)
    assert np.array_equal(glob[0], per[0])  # the loudest clip sets the maximum
    assert glob.min() >= glob.max() - 2.0 - 1e-6  # (8 dB / 4) below the batch maximum
    # frames layout and out= with strides (a transposed view), nothing allocated for the result
    out = np.full((3, 3000, 80), 9.0, np.float32)
    res = plan.batch(clips, layout="frames", out=out, per_item=True)
    assert res is out
    assert np.array_equal(out.transpose(0, 2, 1), np.where(per == 0, out.transpose(0, 2, 1), per))
    big = np.zeros((3, 90, 3100), np.float32)[:, ::1, ::1]
    plan.batch(clips, out=big, per_item=True)
    assert np.array_equal(big[:, :80, :3000], per)
    with pytest.raises(zc.ShapeError):
        plan.batch(clips, out=np.empty((2, 80, 3000), np.float32))
    with pytest.raises(zc.ShapeError):
        plan.batch(clips, out=np.empty((3, 80, 2999), np.float32))
    with pytest.raises(zc.DTypeError, match=r"clips\[1\] must be float32"):
        plan.batch([audio, audio.astype(np.float64)])
    with pytest.raises(zc.CopyRequiredError, match=r"clips\[0\] is not C-contiguous"):
        plan.batch([np.repeat(audio, 2)[::2]])


def test_stream_equals_offline_with_the_same_maximum(mel_data):
    audio = load(mel_data, "chirp_30s.f32")[: 7 * 16000]
    offline = mel.log_mel(audio, layout="frames")
    # the offline clamp maximum, recovered from its output: (max + 4) / 4
    max_log10 = float(offline.max()) * 4.0 - 4.0
    s = mel.MelStream(80, max_log10=max_log10)
    got = []
    rng = np.random.default_rng(0)
    pos = 0
    while pos < audio.size:
        n = int(rng.integers(1, 5000))
        got.append(s.push(np.ascontiguousarray(audio[pos : pos + n])))
        pos += n
    assert s.samples_received == audio.size
    assert s.frames_emitted + s.frames_for_finish() == offline.shape[0]
    got.append(s.finish())
    streamed = np.concatenate(got)
    assert streamed.shape == offline.shape
    assert np.abs(streamed - offline).max() < 1e-6
    assert s.samples_received == 0  # finish() resets for the next clip
    # out= with spare rows: the frames go to its prefix, nothing allocated for them
    buf = np.full((400, 80), 5.0, np.float32)
    chunk = np.ascontiguousarray(audio[:16000])
    want = s.frames_for_push(chunk.size)
    with buffers.ledger() as r:
        view = s.push(chunk, out=buf)
    assert view.shape == (want, 80) and np.shares_memory(view, buf)
    assert np.array_equal(view, offline[:want])
    assert (buf[want:] == 5.0).all()
    # the stream keeps the samples its next frames need: exactly one pass of
    # the chunk into its window (recorded), nothing allocated
    assert r.bytes_copied == chunk.nbytes and r.allocations == 0
    with pytest.raises(zc.ShapeError):
        s.push(chunk, out=np.empty((1, 80), np.float32))
    with pytest.raises(zc.DTypeError):
        s.push(chunk.astype(np.float64))


def _fork_child_work(audio, q):
    plan = mel.MelSpectrogram(80, threads=2)
    q.put(plan(audio))


def test_threads_work_in_a_forked_child(mel_data):
    # A PyTorch DataLoader or multiprocessing pool forks after the parent
    # used zc's worker pool; the child has none of its threads and must not
    # hang (zc spawns its workers per call there).
    import multiprocessing as mp

    audio = load(mel_data, "chirp_30s.f32")
    want = mel.MelSpectrogram(80, threads=2)(audio)  # the parent's pool is built
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_fork_child_work, args=(audio, q))
    p.start()
    got = q.get(timeout=60)
    p.join(timeout=60)
    assert p.exitcode == 0
    assert np.array_equal(got, want)
