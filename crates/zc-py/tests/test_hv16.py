import numpy as np
import pytest

import zc
from zc import buffers, hv16


@pytest.fixture
def store(tmp_path):
    v = hv16.random(500, seed=11)
    w = hv16.HvStore.create(tmp_path / "s.hv")
    assert w.append(v[:300]) == 0
    assert w.append(v[300:]) == 300
    del w
    return tmp_path / "s.hv", v


def brute(v, q, k):
    d = np.unpackbits(v[None, :, :] ^ q[:, None, :], axis=2).sum(axis=2)
    idx = np.lexsort((np.broadcast_to(np.arange(v.shape[0]), d.shape), d), axis=1)[:, :k]
    return np.take_along_axis(d, idx, 1), idx


def test_vectors_is_a_read_only_view_of_the_mapping(store):
    path, v = store
    s = hv16.HvStore(path)
    assert len(s) == 500 and not s.writable
    vec = s.vectors
    assert vec.shape == (500, 256) and vec.dtype == np.uint8
    assert not vec.flags.writeable
    assert np.array_equal(vec, v)
    assert vec.ctypes.data % 4096 == 0  # the page-aligned mapping itself
    with pytest.raises(ValueError):
        vec[0, 0] = 1
    del s
    assert np.array_equal(vec, v)  # the view keeps the store alive


def test_search_matches_brute_force_faiss_convention(store):
    path, v = store
    s = hv16.HvStore(path)
    q = hv16.random(9, seed=99)
    q[3] = v[42]
    d, i = s.search(q, 10)
    assert d.dtype == np.int32 and i.dtype == np.int64 and d.shape == i.shape == (9, 10)
    bd, bi = brute(v, q, 10)
    assert np.array_equal(d, bd) and np.array_equal(i, bi)
    assert d[3, 0] == 0 and i[3, 0] == 42


def test_search_out_and_aligned_queries_copy_no_input(store):
    path, v = store
    s = hv16.HvStore(path)
    q = hv16.empty(2)
    q[:] = v[[7, 8]]
    d = np.empty((2, 4), np.int32)
    i = np.empty((2, 4), np.int64)
    s.search(q, 4, out=(d, i))
    with buffers.ledger() as r, buffers.count_allocations() as a:
        rd, ri = s.search(q, 4, out=(d, i))
    assert rd is d and ri is i
    assert list(i[:, 0]) == [7, 8]
    assert "realign" not in r.copies_by_kind
    assert r.copies_by_kind == {"convert": (1, 2 * 4 * 12)}  # hits -> FAISS arrays
    assert a.kernel_allocations == 0


def test_search_errors(store):
    path, _ = store
    s = hv16.HvStore(path)
    q = hv16.random(1, seed=1)
    with pytest.raises(zc.ZcValueError):
        s.search(q, 0)
    with pytest.raises(zc.ZcValueError):
        s.search(q, 501)
    with pytest.raises(zc.ShapeError):
        s.search(np.zeros((1, 255), np.uint8), 1)
    with pytest.raises(zc.DTypeError):
        s.search(q.astype(np.int8), 1)
    with pytest.raises(zc.ShapeError):
        s.search(q, 3, out=(np.empty((1, 2), np.int32), np.empty((1, 3), np.int64)))


def test_append_refused_while_views_alive(store, tmp_path):
    path, v = store
    w = hv16.HvStore.open_rw(path)
    view = w.vectors
    with pytest.raises(zc.ZcRuntimeError):
        w.append(v[:1])
    del view
    assert w.append(v[:1]) == 500
    assert len(w) == 501


def test_open_errors(tmp_path):
    with pytest.raises(zc.ZcOSError):
        hv16.HvStore(tmp_path / "none.hv")
    p = tmp_path / "bad.hv"
    p.write_bytes(b"\0" * 8192)
    with pytest.raises(zc.FileFormatError):
        hv16.HvStore(p)


def test_algebra():
    v = hv16.random(6, seed=5)
    b = hv16.bind(v[:3], v[5])
    assert np.array_equal(b, v[:3] ^ v[5])
    assert np.array_equal(hv16.bind(b, v[5]), v[:3])
    h = hv16.hamming(v[:3], v[3:6])
    assert h.dtype == np.int32
    assert list(h) == [int(np.unpackbits(v[j] ^ v[3 + j]).sum()) for j in range(3)]
    p = hv16.permute(v[:2], 1)
    bits = np.unpackbits(v[:2], axis=1, bitorder="little")
    assert np.array_equal(np.unpackbits(p, axis=1, bitorder="little"), np.roll(bits, 1, axis=1))
    maj = hv16.bundle(v[:3])
    bits3 = np.unpackbits(v[:3], axis=1, bitorder="little").sum(0)
    assert np.array_equal(np.unpackbits(maj, bitorder="little"), (bits3 >= 2).astype(np.uint8))
    out = hv16.empty(3)
    assert hv16.bind(v[:3], v[:3], out=out) is out and not out.any()
    with pytest.raises(zc.ShapeError):
        hv16.bind(v[:3], v[:2])
