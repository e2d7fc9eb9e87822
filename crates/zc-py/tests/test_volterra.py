import numpy as np
import pytest

import zc
from zc import buffers, volterra


def reference(x, h1, h2d, h3d):
    y = np.zeros_like(x, dtype=np.float64)
    for n in range(len(x)):
        for k in range(len(h1)):
            if n - k >= 0:
                y[n] += h1[k] * x[n - k] + h2d[k] * x[n - k] ** 2 + h3d[k] * x[n - k] ** 3
    return y


def test_streaming_matches_reference_f64_and_f32():
    rng = np.random.default_rng(0)
    h1, h2, h3 = rng.normal(size=8), 0.1 * rng.normal(size=8), 0.01 * rng.normal(size=8)
    k = volterra.Kernel(h1=h1, h2=h2, h3=h3)
    assert k.max_order == 3 and k.memory == 8
    x = rng.normal(size=1000)
    ref = reference(x, h1, h2, h3)
    p = volterra.Processor(k, 128, dtype="float64")
    y = np.concatenate([p.process(x[i : i + 100]) for i in range(0, 1000, 100)])
    assert np.abs(y - ref).max() < 1e-9
    p32 = volterra.Processor(k, 64, dtype="float32")
    y32 = p32.process(x.astype(np.float32))  # longer than max_block: split, state kept
    assert y32.dtype == np.float32 and np.abs(y32 - ref).max() < 1e-3


def test_out_allocates_and_copies_nothing():
    k = volterra.Kernel(h1=np.array([1.0, 0.5]), h2=np.array([0.25]))
    p = volterra.Processor(k, 256, dtype="float32")
    x = np.linspace(-1, 1, 256, dtype=np.float32)
    out = np.empty_like(x)
    p.process(x, out=out)
    with buffers.ledger() as r, buffers.count_allocations() as a:
        assert p.process(x, out=out) is out
    assert r.copies == 0 and a.kernel_allocations == 0


def test_full_h2_and_npz_roundtrip(tmp_path):
    h2 = np.array([[1.0, 0.5], [0.5, 2.0]])
    k = volterra.Kernel(h1=np.array([1.0, 0.0]), h2=h2)
    path = tmp_path / "k.npz"
    k.save_npz(path)
    with np.load(path) as z:
        assert np.allclose(z["h2"], h2) and not bool(z["h2_is_diagonal"])
    k2 = volterra.Kernel.from_npz(path)
    x = np.array([1.0, 2.0, 3.0])
    a = volterra.Processor(k, 8, dtype="float64").process(x)
    b = volterra.Processor(k2, 8, dtype="float64").process(x)
    assert np.allclose(a, b)
    # y[n] = x[n] + sum_ij h2[i,j] x[n-i] x[n-j]
    assert np.isclose(a[1], 2.0 + 1.0 * 4 + 2 * 0.5 * 2 * 1 + 2.0 * 1)


def test_npz_written_by_numpy(tmp_path):
    path = tmp_path / "py.npz"
    np.savez_compressed(path, h1=np.array([0.5, 0.25]), h2=np.array([0.1, 0.0]), h2_is_diagonal=np.array(True))
    k = volterra.Kernel.from_npz(path)
    assert np.allclose(k.taps(1), [0.5, 0.25]) and np.allclose(k.taps(2), [0.1, 0.0])


def test_errors(tmp_path):
    with pytest.raises(zc.ZcValueError):
        volterra.Kernel()
    with pytest.raises(zc.ShapeError):
        volterra.Kernel(h2=np.ones((2, 3)))
    with pytest.raises(zc.DTypeError):
        volterra.Kernel(h1=np.ones(3, np.float32))
    p = volterra.Processor(volterra.Kernel(h1=np.ones(2)), 16)
    with pytest.raises(zc.DTypeError):
        p.process(np.ones(4))  # float64 into a float32 processor
    out = np.full(3, 9.0, np.float32)
    with pytest.raises(zc.ShapeError):
        p.process(np.ones(4, np.float32), out=out)
    assert (out == 9.0).all()
    with pytest.raises(zc.ZcOSError):
        volterra.Kernel.from_npz(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(zc.FileFormatError):
        volterra.Kernel.from_npz(bad)
