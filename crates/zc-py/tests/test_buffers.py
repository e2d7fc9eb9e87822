import gc

import numpy as np
import pytest

import zc
from zc import buffers


def test_pool_buffer_shares_memory_and_returns_to_pool():
    pool = buffers.Pool()
    buf = pool.acquire(4096)
    arr = np.asarray(buf)
    assert arr.dtype == np.uint8 and arr.shape == (4096,)
    assert arr.ctypes.data == buf.address  # no copy
    assert arr.base is buf  # the array keeps the guard alive
    arr[:] = 3
    assert pool.stats()["in_use"] == 1
    del buf
    gc.collect()
    assert pool.stats()["in_use"] == 1  # still held by the array
    assert arr.sum() == 3 * 4096
    del arr
    gc.collect()
    assert pool.stats()["in_use"] == 0
    before = pool.stats()["hits"]
    again = pool.acquire(4096)
    assert pool.stats()["hits"] == before + 1
    assert np.asarray(again).size == 4096


def test_typed_view_and_dtype_errors():
    pool = buffers.Pool()
    buf = pool.acquire(80 * 4, dtype="float32", shape=(8, 10))
    a = np.asarray(buf)
    assert a.dtype == np.float32 and a.shape == (8, 10)
    assert buf.view("float64", [40]).nbytes == 320
    with pytest.raises(zc.ShapeError):
        buf.view("float64", [41])
    with pytest.raises(zc.DTypeError):
        pool.acquire(16, dtype="complex64")


def test_from_dlpack_versioned_and_legacy_share_memory():
    pool = buffers.Pool()
    buf = pool.acquire(64, dtype="float32")
    assert buf.__dlpack_device__() == (1, 0)
    x = np.from_dlpack(buf)
    assert x.ctypes.data == buf.address
    x[:] = 1.5
    assert np.asarray(buf)[5] == 1.5
    legacy = buf.__dlpack__()
    assert "dltensor" in repr(legacy) and "versioned" not in repr(legacy)
    versioned = buf.__dlpack__(max_version=(1, 0))
    assert "dltensor_versioned" in repr(versioned)
    # unconsumed capsules free their tensors (and the pool buffer comes back)
    del legacy, versioned, x, buf
    gc.collect()
    assert pool.stats()["in_use"] == 0


def test_dlpack_refuses_copy_and_other_devices():
    buf = buffers.Pool().acquire(16)
    with pytest.raises(BufferError):
        buf.__dlpack__(copy=True)
    with pytest.raises(BufferError):
        buf.__dlpack__(dl_device=(2, 0))


def test_ledger_records_realigning_copies():
    v = zc.hv16.random(4, seed=3)
    misaligned = np.empty(4 * 256 + 1, np.uint8)[1:].reshape(4, 256)
    misaligned[:] = v
    with buffers.ledger() as r:
        zc.hv16.hamming(v, v)
    assert r.copies == 0 and r.bytes_copied == 0
    with buffers.ledger() as r:
        zc.hv16.hamming(misaligned, v)
    assert r.copies_by_kind["realign"] == (1, 4 * 256)
    assert r.bytes_copied == 4 * 256


def test_nested_ledgers_both_record():
    v = zc.hv16.random(2, seed=3)
    odd = np.empty(2 * 256 + 1, np.uint8)[1:].reshape(2, 256)
    odd[:] = v
    with buffers.ledger() as outer:
        with buffers.ledger() as inner:
            zc.hv16.hamming(odd, v)
        zc.hv16.hamming(odd, v)
    assert inner.copies == 1 and outer.copies == 2


def test_count_allocations_counts_rust_heap():
    with buffers.count_allocations() as a:
        buffers.Pool().acquire(1 << 20)
    assert a.allocations >= 1 and a.bytes_allocated >= 1 << 20
