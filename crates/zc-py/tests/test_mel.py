import numpy as np
import pytest

import zc
from zc import buffers, mel


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
    # the binding's own bookkeeping (rust-numpy borrow flags) is small and
    # does not grow with the data: never an output-sized allocation
    assert a.bytes_allocated < 4096
    short = np.ascontiguousarray(audio[:16000])
    out2 = np.empty((80, 100), np.float32)
    mel.log_mel(short, out=out2)
    with buffers.ledger(), buffers.count_allocations() as b:
        mel.log_mel(short, out=out2)
    # a 30 s clip and a 1 s clip: the same few bookkeeping allocations,
    # none sized by the data (the 30 s output alone is 960 000 bytes)
    assert b.kernel_allocations == 0
    assert a.allocations <= 16 and b.allocations <= 16 and b.bytes_allocated < 4096


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
