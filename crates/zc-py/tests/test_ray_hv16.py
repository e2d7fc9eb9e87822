"""zc.ray.hv16: sharded stores and ShardedSearch on a local Ray cluster."""

import json
import os

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from zc import hv16  # noqa: E402
from zc.ray import hv16 as rhv  # noqa: E402


@pytest.fixture(scope="session")
def cluster():
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False)
    yield ray


def tie_heavy_store(path, n, seed):
    """Few distinct vectors, each repeated many times: every top-k cuts through ties."""
    rng = np.random.default_rng(seed)
    base = hv16.random(23, seed=seed)
    v = hv16.empty(n)
    v[:] = base[rng.integers(0, len(base), n)]
    v[rng.integers(0, n, n // 3)] = hv16.random(n // 3, seed=seed + 1)  # and some unique ones
    w = hv16.HvStore.create(path)
    w.append(v)
    del w
    return v


def queries(v, seed):
    q = hv16.empty(17)
    q[:9] = hv16.random(9, seed=seed)
    q[9:] = v[[0, 1, 2, 3, 5, 8, 13, 21]]  # exact members (distance 0, duplicated)
    return q


@pytest.mark.parametrize("n_shards", [1, 2, 3, 4, 5])
def test_sharded_search_equals_single_store_ties_included(cluster, tmp_path, n_shards):
    n = 401
    v = tie_heavy_store(tmp_path / "all.hv", n, seed=n_shards)
    single = hv16.HvStore(tmp_path / "all.hv")
    q = queries(v, 100 + n_shards)
    man = rhv.build_shards(tmp_path / "all.hv", tmp_path / "sh", max_vectors=-(-n // n_shards), generator="g1")
    doc = rhv.verify_shards(man)
    assert len(doc["shards"]) == n_shards and doc["total"] == n and doc["generator"] == "g1"
    assert [s["offset"] for s in doc["shards"]] == list(np.cumsum([0] + [s["count"] for s in doc["shards"]])[:-1])
    with rhv.ShardedSearch(man, batch_size=5) as ss:  # several query batches in flight
        assert len(ss) == n and ss.num_shards == n_shards
        for k in (1, 10, n // n_shards - 1, n // n_shards + 7, n):
            k = min(k, n)
            d, i = ss.search(q, k)
            sd, si = single.search(q, k)
            assert d.dtype == np.int32 and i.dtype == np.int64
            assert np.array_equal(d, sd) and np.array_equal(i, si), (n_shards, k)
        # ties really were cut: equal distances on both sides of the k boundary
        d, _ = ss.search(q, 10)
        full, _ = single.search(q, 11)
        assert (full[:, 9] == full[:, 10]).any()


def test_rolling_writer_uneven_appends_equals_single_store(cluster, tmp_path):
    n = 333
    v = tie_heavy_store(tmp_path / "all.hv", n, seed=42)
    rng = np.random.default_rng(0)
    cuts = np.sort(rng.choice(np.arange(1, n), 9, replace=False))
    with rhv.ShardWriter(tmp_path / "sh", max_vectors=70, generator="g2") as w:
        starts = [w.append(part) for part in np.split(v, cuts)]
    assert starts == [0] + list(cuts)
    doc = rhv.read_manifest(tmp_path / "sh" / "shards.json")
    assert [s["count"] for s in doc["shards"]] == [70, 70, 70, 70, 53]
    # continuing the sharded store: the last shard fills up, then a new one starts
    extra = hv16.random(30, seed=9)
    with rhv.ShardWriter(tmp_path / "sh", max_vectors=70, generator="g2") as w:
        assert w.append(extra) == n
    doc = rhv.verify_shards(tmp_path / "sh" / "shards.json")
    assert [s["count"] for s in doc["shards"]] == [70, 70, 70, 70, 70, 13]
    allv = hv16.empty(n + 30)
    allv[:n], allv[n:] = v, extra
    w = hv16.HvStore.create(tmp_path / "ref.hv")
    w.append(allv)
    del w
    single = hv16.HvStore(tmp_path / "ref.hv")
    q = queries(allv, 7)
    with rhv.ShardedSearch(tmp_path / "sh" / "shards.json") as ss:
        for k in (1, 13, 64, 200):
            d, i = ss.search(q, k)
            sd, si = single.search(q, k)
            assert np.array_equal(d, sd) and np.array_equal(i, si), k
        with pytest.raises(ValueError):
            ss.search(q, n + 31)
    with pytest.raises(ValueError, match="generator"):
        rhv.ShardWriter(tmp_path / "sh", max_vectors=70, generator="other")


def test_merge_top_k_is_independent_of_shard_order():
    rng = np.random.default_rng(1)
    d = [rng.integers(0, 4, (3, 6)).astype(np.int32) for _ in range(4)]
    i = [np.sort(rng.choice(1000, (3, 6), replace=False), axis=1).astype(np.int64) + 1000 * s for s in range(4)]
    a = rhv.merge_top_k(d, i, 9)
    b = rhv.merge_top_k(d[::-1], i[::-1], 9)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    for row in range(3):
        pairs = list(zip(a[0][row], a[1][row]))
        assert pairs == sorted(pairs)
        alld = np.concatenate([x[row] for x in d])
        assert sorted(alld)[:9] == list(a[0][row])


@pytest.fixture
def sharded(tmp_path):
    tie_heavy_store(tmp_path / "all.hv", 120, seed=3)
    return rhv.build_shards(tmp_path / "all.hv", tmp_path / "sh", max_vectors=40), tmp_path / "sh"


def test_missing_shard_is_an_error_naming_it(cluster, sharded):
    man, d = sharded
    os.unlink(d / "shard-00001.hv")
    with pytest.raises(rhv.ShardError, match=r"shard 1 \(.*shard-00001\.hv\)"):
        rhv.ShardedSearch(man)
    with pytest.raises(rhv.ShardError, match="shard-00001.hv"):
        rhv.verify_shards(man)


def test_corrupt_shard_is_an_error_naming_it(cluster, sharded):
    man, d = sharded
    p = d / "shard-00002.hv"
    raw = bytearray(p.read_bytes())
    raw[-100] ^= 0x01  # one bit of one vector
    p.write_bytes(bytes(raw))
    with pytest.raises(rhv.ShardError, match=r"shard 2 \(.*shard-00002\.hv\)") as e:
        rhv.ShardedSearch(man)
    assert "FileFormatError" in str(e.value) or "checksum" in str(e.value).lower()


def test_truncated_shard_and_miscounted_manifest(cluster, sharded):
    man, d = sharded
    doc = json.loads(open(man).read())
    doc["shards"][0]["count"] = 39
    doc["shards"][1]["offset"] = 39
    doc["shards"][2]["offset"] = 79
    doc["total"] = 119
    bad = d / "bad.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(rhv.ShardError, match=r"shard 0 .*40 vectors, the manifest says 39"):
        rhv.ShardedSearch(bad)
    p = d / "shard-00000.hv"
    p.write_bytes(p.read_bytes()[:-300])
    with pytest.raises(rhv.ShardError, match=r"shard 0 \(.*shard-00000\.hv\)"):
        rhv.ShardedSearch(man)
    doc["shards"][1]["offset"] = 12
    bad.write_text(json.dumps(doc))
    with pytest.raises(rhv.ShardError, match="shard 1"):
        rhv.read_manifest(bad)


def test_queries_reach_a_shard_actor_aligned_so_search_copies_no_input(cluster, sharded):
    man, d = sharded
    shard = rhv.read_manifest(man)["shards"][1]

    @ray.remote
    def probe(q):
        from zc import buffers

        store = rhv._open_shard(1, shard)
        with buffers.ledger() as r:
            store.search(q, 5)
        return q.ctypes.data % 64, q.flags.writeable, r.copies_by_kind

    for m in (1, 64, 300):
        align, writeable, kinds = ray.get(probe.remote(ray.put(hv16.random(m, seed=m))))
        # the object store hands the actor a read-only, 64-byte-aligned view: no 'realign'
        assert align == 0 and not writeable
        assert set(kinds) == {"convert"} and kinds["convert"] == (1, 12 * m * 5)
