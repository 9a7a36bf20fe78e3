"""Long calls release the GIL (two Python threads query one tree at once), stop on Ctrl-C
leaving the tree usable, and leak nothing over many calls."""

import os
import signal
import threading
import time

import numpy as np
import pytest

import covertree_bench as ctb


@pytest.fixture(scope="module")
def residual_tree():
    coords = np.random.default_rng(5).normal(size=(3000, 3))
    kernel = ctb.kernels.RBF(lengthscale=1.0, variance=1.0)
    return coords, kernel, ctb.cover_tree(coords, kernel=kernel, inducing_count=64)


def test_two_threads_query_one_tree(residual_tree):
    coords, kernel, tree = residual_tree
    queries = np.tile(np.arange(len(coords)), 2)
    want = tree.knn(10, queries=queries, threads=1)
    t0 = time.perf_counter()
    for _ in range(2):
        tree.knn(10, queries=queries, threads=1)
    sequential = time.perf_counter() - t0

    barrier = threading.Barrier(2)
    spans, answers = {}, {}

    def worker(name):
        barrier.wait()
        start = time.perf_counter()
        answers[name] = tree.knn(10, queries=queries, threads=1)
        spans[name] = (start, time.perf_counter())

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b")]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    together = time.perf_counter() - t0
    for name in ("a", "b"):
        np.testing.assert_array_equal(answers[name], want)
    # Both calls were in flight at once: impossible if a call held the GIL, since the other
    # thread could not even enter knn until the first returned.
    (a0, a1), (b0, b1) = spans["a"], spans["b"]
    assert max(a0, b0) < min(a1, b1)
    print(f"two calls one after the other {sequential:.3f} s, at once {together:.3f} s "
          f"(speed-up {sequential / together:.2f} on a shared machine)")


def interrupt_after(seconds):
    """Sends this process SIGINT (Ctrl-C) after `seconds`; Python's own handler turns it into
    KeyboardInterrupt on the main thread."""
    timer = threading.Timer(seconds, os.kill, args=(os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def test_ctrl_c_stops_a_long_tree_query(residual_tree):
    coords, kernel, tree = residual_tree
    # 600 passes over every point: tens of seconds uncancelled
    queries = np.tile(np.arange(len(coords)), 600)
    timer = interrupt_after(0.5)
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        tree.knn(1, queries=queries, threads=2)
    elapsed = time.perf_counter() - t0
    timer.join()
    assert elapsed < 5.0, f"the query ran {elapsed:.1f} s after Ctrl-C at 0.5 s"
    # The tree is still usable and still exact.
    ids = np.array([0, 5, 2999])
    got = tree.knn(5, queries=ids, return_distances=True)
    want = ctb.brute_force_knn(coords, 5, kernel=kernel, inducing_count=64, queries=ids,
                               return_distances=True)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_ctrl_c_stops_a_long_brute_force():
    coords = np.random.default_rng(9).normal(size=(40000, 3))
    timer = interrupt_after(0.5)
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):  # ~1.6e9 residual distances uncancelled
        ctb.brute_force_knn(coords, 10, kernel=ctb.kernels.Matern52(), inducing_count=256,
                            threads=2)
    elapsed = time.perf_counter() - t0
    timer.join()
    assert elapsed < 5.0, f"the scan ran {elapsed:.1f} s after Ctrl-C at 0.5 s"


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_no_memory_growth_over_1000_calls(residual_tree):
    coords, kernel, tree = residual_tree
    small = coords[:200]
    queries = np.arange(0, 3000, 30)

    def calls(count):
        for i in range(count):
            tree.knn(8, queries=queries, return_distances=True)
            if i % 10 == 0:
                ctb.cover_tree(small, kernel=kernel, inducing_count=20).knn(3)
                ctb.brute_force_knn(small, 3, return_distances=True)

    calls(100)  # warm-up: allocator pools, lazily created state
    before = rss_bytes()
    calls(1000)
    growth = rss_bytes() - before
    assert growth < 16 << 20, f"RSS grew by {growth / 2**20:.1f} MiB over 1000 calls"
