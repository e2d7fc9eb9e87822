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


# ---- range_search, append, bad input (issue 14) ---------------------------


def brute_range(v, q, radius):
    d = np.unpackbits(v[None, :, :] ^ q[:, None, :], axis=2).sum(axis=2)
    lims, ds, ids = [0], [], []
    for row in d:
        hit = np.nonzero(row <= radius)[0]
        ds.extend(row[hit])
        ids.extend(hit)
        lims.append(len(ds))
    return np.array(lims), np.array(ds, np.int32), np.array(ids, np.int64)


def test_range_search_faiss_layout(store):
    path, v = store
    s = hv16.HvStore(path)
    q = hv16.empty(4)
    q[:] = v[[3, 3, 9, 100]]
    q[1] = hv16.bind(v[3], hv16.random(1, seed=5)[0])  # far from everything
    q[2, :4] ^= 0xFF  # 32 bits from vector 9
    for radius in (0, 32, 1000, 1100, 2048):
        lims, d, i = s.range_search(q, radius)
        assert lims.dtype == np.int64 and d.dtype == np.int32 and i.dtype == np.int64
        bl, bd, bi = brute_range(v, q, radius)
        assert np.array_equal(lims, bl) and np.array_equal(d, bd) and np.array_equal(i, bi), radius
    lims, d, i = s.range_search(q, 32)
    assert list(i[lims[2] : lims[3]]) == [9] and list(d[lims[2] : lims[3]]) == [32]
    lims, d, i = s.range_search(q, 2048)
    assert list(lims) == [0, 500, 1000, 1500, 2000]
    with pytest.raises(zc.ZcValueError):
        s.range_search(q, -1)
    with pytest.raises(zc.DTypeError):
        s.range_search(q.view(np.int8), 3)
    with pytest.raises(zc.CopyRequiredError):
        s.range_search(np.asfortranarray(np.zeros((3, 256), np.uint8)), 3)
    with pytest.raises(zc.CopyRequiredError):
        s.range_search(v[::2], 3)
    with pytest.raises(zc.ShapeError):
        s.range_search(np.zeros((2, 128), np.uint8), 3)


def test_range_search_matches_faiss_strict_radius(store):
    faiss = pytest.importorskip("faiss")
    path, v = store
    s = hv16.HvStore(path)
    index = faiss.IndexBinaryFlat(2048)
    index.add(np.ascontiguousarray(v))
    q = hv16.random(5, seed=3)
    q[0] = v[17]
    for radius in (1, 990, 1024):
        fl, fd, fi = index.range_search(q, radius)  # FAISS keeps distance < radius
        lims, d, i = s.range_search(q, radius - 1)
        assert np.array_equal(lims, fl)
        for r in range(len(q)):  # same set; order within a row is not part of FAISS's contract
            a = sorted(zip(fi[fl[r] : fl[r + 1]], fd[fl[r] : fl[r + 1]]))
            b = sorted(zip(i[lims[r] : lims[r + 1]], d[lims[r] : lims[r + 1]]))
            assert a == b


def test_range_search_empty_store(tmp_path):
    w = hv16.HvStore.create(tmp_path / "e.hv")
    lims, d, i = w.range_search(hv16.random(2), 2048)
    assert list(lims) == [0, 0, 0] and len(d) == len(i) == 0


def test_append_and_search_bad_input_write_nothing(store, tmp_path):
    path, v = store
    w = hv16.HvStore.open_rw(path)
    for bad, exc in [
        (v[:2].astype(np.int16), zc.DTypeError),
        (np.zeros((2, 255), np.uint8), zc.ShapeError),
        (np.asfortranarray(v[:3]), zc.CopyRequiredError),
    ]:
        with pytest.raises(exc):
            w.append(bad)
        assert len(w) == 500
    assert w.append(v[10]) == 500  # one 1-D vector
    del w
    r = hv16.HvStore(path)
    assert len(r) == 501 and np.array_equal(r.vectors[500], v[10])
    with pytest.raises(zc.ZcValueError, match="read-only"):
        r.append(v[:1])
    q = hv16.random(2, seed=4)
    d = np.full((2, 3), 7, np.int32)
    i = np.full((2, 3), 7, np.int64)
    i.flags.writeable = False
    with pytest.raises(zc.ReadOnlyError):
        r.search(q, 3, out=(d, i))
    assert (d == 7).all()  # nothing written
    with pytest.raises(zc.CopyRequiredError):
        r.search(q, 3, out=(np.empty((3, 2), np.int32).T, np.empty((2, 3), np.int64)))


# ---- ItemMemory ---------------------------------------------------------------


def test_item_memory_insert_extend_get_search(tmp_path):
    p = tmp_path / "im.hv"
    v = hv16.random(40, seed=21)
    m = hv16.ItemMemory.create(p)
    assert m.writable and len(m) == 0
    assert m.insert("first", v[0]) == 0
    assert m.extend([f"s{j}" for j in range(1, 40)], v[1:]) == 1
    assert len(m) == 40 and "s7" in m and "nope" not in m
    assert np.array_equal(m.get("s7"), v[7]) and m.get("nope") is None
    assert m.index_of("s9") == 9 and m.name(9) == "s9" and m.name(99) is None
    with pytest.raises(zc.ZcValueError, match="already"):
        m.extend(["new", "s3"], v[:2])  # all or nothing
    assert len(m) == 40 and "new" not in m
    with pytest.raises(zc.ShapeError):
        m.extend(["a", "b"], v[:3])
    with pytest.raises(zc.ShapeError):
        m.insert("x", v[:2])
    with pytest.raises(zc.DTypeError):
        m.insert("x", v[0].astype(np.int32))
    del m
    r = hv16.ItemMemory(p)
    assert not r.writable and len(r) == 40
    q = hv16.empty(3)
    q[:] = v[[5, 0, 33]]
    q[0, :2] ^= 0xFF
    d, i, names = r.search(q, 4)
    bd, bi = brute(v, q, 4)
    assert np.array_equal(d, bd) and np.array_equal(i, bi)
    assert names[0][0] == "s5" and names[1][0] == "first" and names[2][0] == "s33"
    assert names[0] == [r.name(int(j)) for j in i[0]]
    with pytest.raises(zc.ZcValueError, match="read-only"):
        r.insert("z", v[0])
    with pytest.raises(zc.ZcValueError):
        r.search(q, 41)
    w = hv16.ItemMemory.open_rw(p)
    with pytest.raises(zc.ZcOSError):
        hv16.ItemMemory.open_rw(p)  # one writer
    assert w.insert("late", v[1]) == 40
    with pytest.raises(zc.FileFormatError):
        (tmp_path / "bad.hv").write_bytes(b"\0" * 8192)
        hv16.ItemMemory(tmp_path / "bad.hv")


# ---- sharded stores (issue 15) -------------------------------------------


def sharded(tmp_path, v, per):
    src = tmp_path / "all.hv"
    w = hv16.HvStore.create(src)
    w.append(v)
    del w
    return hv16.split_store(src, tmp_path / "sh" / "m.json", per, "gen"), tmp_path / "sh" / "m.json"


def test_shard_set_equals_one_store_and_pads_past_n(tmp_path):
    base = hv16.random(5, seed=2)
    v = hv16.empty(130)
    v[:] = base[np.arange(130) % 5]  # ties everywhere
    v[::9] = hv16.random(len(v[::9]), seed=8)
    m, man = sharded(tmp_path, v, 30)
    assert isinstance(m, hv16.ShardManifest) and len(m) == 5 and m.total == 130 and m.generator == "gen"
    assert [s["offset"] for s in m.shards] == [0, 30, 60, 90, 120]
    assert all(isinstance(s["checksum"], int) for s in m.shards)
    single = hv16.HvStore(tmp_path / "all.hv")
    ss = hv16.ShardSet(man)
    assert len(ss) == 130 and ss.num_shards == 5 and ss.manifest == m and ss.paths[1].endswith("shard-00001.hv")
    q = hv16.empty(6)
    q[:3] = hv16.random(3, seed=77)
    q[3:] = v[[0, 64, 129]]
    for k in (1, 7, 29, 31, 100, 130):
        for threads in (1, 2):
            d, i = ss.search(q, k, threads=threads)
            sd, si = single.search(q, k)
            assert np.array_equal(d, sd) and np.array_equal(i, si), (k, threads)
    d, i = ss.search(q, 140)
    sd, si = single.search(q, 130)
    assert np.array_equal(d[:, :130], sd) and np.array_equal(i[:, :130], si)
    assert (d[:, 130:] == 2**31 - 1).all() and (i[:, 130:] == -1).all()
    D = np.empty((6, 9), np.int32)
    I = np.empty((6, 9), np.int64)
    assert ss.search(q, 9, out=(D, I))[0] is D
    with pytest.raises(zc.ZcValueError):
        ss.search(q, 0)
    ro = np.empty((6, 9), np.int32)
    ro.flags.writeable = False
    with pytest.raises(zc.ReadOnlyError):
        ss.search(q, 9, out=(ro, I))
    with pytest.raises(zc.ShapeError):
        ss.search(q, 8, out=(D, I))
    with pytest.raises(zc.CopyRequiredError):
        ss.search(np.asfortranarray(q), 3)


def test_shard_set_errors_name_the_shard(tmp_path):
    v = hv16.random(90, seed=4)
    _, man = sharded(tmp_path, v, 30)
    sh = tmp_path / "sh"
    (sh / "shard-00001.hv").rename(sh / "away")
    with pytest.raises(zc.ZcOSError, match=r"^shard 1 \(.*shard-00001\.hv\)"):
        hv16.ShardSet(man)
    (sh / "away").rename(sh / "shard-00001.hv")
    raw = bytearray((sh / "shard-00002.hv").read_bytes())
    raw[-7] ^= 4
    (sh / "shard-00002.hv").write_bytes(bytes(raw))
    with pytest.raises(zc.FileFormatError, match=r"^shard 2 \(.*checksum"):
        hv16.ShardSet(man)
    (man.parent / "x.json").write_text("{not json")
    with pytest.raises(zc.FileFormatError, match="shard manifest"):
        hv16.ShardManifest.load(man.parent / "x.json")
    with pytest.raises(zc.ZcOSError):
        hv16.ShardManifest.load(man.parent / "none.json")


def test_shard_manifest_build_save_load(tmp_path):
    m = hv16.ShardManifest([{"file": "a.hv", "count": 3}, {"file": "b.hv", "count": 0, "checksum": 5}], "g")
    assert [s["offset"] for s in m.shards] == [0, 3] and m.total == 3 and m.version == 2
    assert m.locate(2) == (0, 2) and m.locate(3) is None
    m.save(tmp_path / "m.json")
    assert hv16.ShardManifest.load(tmp_path / "m.json") == m
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]  # no temporary left
    with pytest.raises(zc.ZcValueError, match="relative"):
        hv16.ShardManifest([{"file": "/abs.hv", "count": 1}])
    with pytest.raises(zc.ZcValueError, match="twice"):
        hv16.ShardManifest([{"file": "a.hv", "count": 1}, {"file": "a.hv", "count": 1}])


def test_shard_writer_rolls_over_and_continues(tmp_path):
    v = hv16.random(100, seed=6)
    man = tmp_path / "w" / "m.json"
    with hv16.ShardWriter.create(man, 30, "g", sync=False) as w:
        assert w.append(v[:45]) == 0
        assert w.append(v[45:70]) == 45
        assert len(w) == 70 and [s["count"] for s in w.manifest.shards] == [30, 30, 10]
    with pytest.raises(zc.ZcValueError, match="finished"):
        w.append(v[:1])
    with pytest.raises(zc.ZcValueError, match="generator"):
        hv16.ShardWriter.open_rw(man, 30, "other")
    w = hv16.ShardWriter.open_rw(man, 30, "g")
    with pytest.raises(zc.ZcOSError, match="shard 2"):
        hv16.ShardWriter.open_rw(man, 30, "g")  # the open shard's writer lock
    with pytest.raises(zc.DTypeError):
        w.append(v[:3].astype(np.int8))
    assert w.append(v[70:]) == 70
    m = w.finish()
    assert [s["count"] for s in m.shards] == [30, 30, 30, 10]
    single = hv16.HvStore.create(tmp_path / "ref.hv")
    single.append(v)
    d, i = hv16.ShardSet(man).search(v[[3, 50, 99]], 12)
    sd, si = single.search(v[[3, 50, 99]], 12)
    assert np.array_equal(d, sd) and np.array_equal(i, si)


def test_merge_top_k_pads_and_ignores_order():
    rng = np.random.default_rng(1)
    d = [np.sort(rng.integers(0, 4, (3, 5)), axis=1).astype(np.int32) for _ in range(3)]
    i = [np.arange(5, dtype=np.int64)[None].repeat(3, 0) + 100 * s for s in range(3)]
    a = hv16.merge_top_k(d, i, 20)
    b = hv16.merge_top_k(d[::-1], i[::-1], 20)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert (a[0][:, 15:] == 2**31 - 1).all() and (a[1][:, 15:] == -1).all()
    for row in range(3):
        pairs = list(zip(a[0][row, :15], a[1][row, :15]))
        assert pairs == sorted(pairs)
    again = hv16.merge_top_k([a[0]], [a[1]], 4)  # padding is skipped when merging again
    assert np.array_equal(again[1], a[1][:, :4])
    with pytest.raises(zc.DTypeError):
        hv16.merge_top_k([d[0].astype(np.int64)], [i[0]], 2)
    with pytest.raises(zc.ShapeError):
        hv16.merge_top_k([d[0], d[1][:2]], [i[0], i[1][:2]], 2)
    with pytest.raises(zc.ShapeError):
        hv16.merge_top_k([d[0]], [i[0][:, :2]], 2)
    with pytest.raises(zc.ZcValueError):
        hv16.merge_top_k([-d[0] - 1], [i[0]], 2)
    out = (np.zeros((3, 2), np.int32), np.zeros((3, 2), np.int64))
    assert hv16.merge_top_k(d, i, 2, out=out)[0] is out[0]


def test_search_threads_give_identical_results(tmp_path):
    rng = np.random.default_rng(5)
    base = rng.integers(0, 256, size=(300, 256), dtype=np.uint8)
    vecs = np.concatenate([base, base[:100]])  # duplicates: ties everywhere
    path = tmp_path / "t.hv16"
    w = hv16.HvStore.create(path)
    w.append(vecs)
    del w
    s = hv16.HvStore(path)
    q = np.ascontiguousarray(vecs[::7][:37])
    d1, i1 = s.search(q, 9)
    bd, bi = brute(vecs, q, 9)
    assert np.array_equal(d1, bd) and np.array_equal(i1, bi)
    for threads in (0, 2, 3):
        d, i = s.search(q, 9, threads=threads)
        assert np.array_equal(d, d1) and np.array_equal(i, i1)
