"""Every class of bad input raises ValueError/TypeError with a one-line message naming the
argument, the same messages the CLI's `knn` prints (lib/bench/knn_job.hpp makes both)."""

import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

import covertree_bench as ctb

CLI = Path(ctb.__file__).resolve().parents[2] / "covertree-bench"  # build/<preset>/


@pytest.fixture(scope="module")
def coords():
    return np.random.default_rng(3).normal(size=(50, 2))


@pytest.fixture(scope="module")
def tree(coords):
    return ctb.cover_tree(coords, kernel=ctb.kernels.RBF(), inducing_count=10)


def raises(exc, match, fn, *args, **kwargs):
    with pytest.raises(exc, match=match) as info:
        fn(*args, **kwargs)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_bad_coords():
    rbf = ctb.kernels.RBF()
    raises(ValueError, "coords must be a 2-D array", ctb.cover_tree, np.zeros((2, 2, 2)))
    raises(ValueError, "coords is empty", ctb.cover_tree, np.zeros((0, 3)))
    bad = np.ones((5, 2))
    bad[3, 1] = np.nan
    raises(ValueError, "coords: point 3 has a NaN", ctb.cover_tree, bad, kernel=rbf)
    bad[3, 1] = np.inf
    raises(ValueError, "coords: point 3 has a NaN or infinite", ctb.cover_tree, bad)
    raises(TypeError, "coords must be float64 or float32", ctb.cover_tree, np.ones((5, 2), int))
    raises(TypeError, "coords must be float64 or float32", ctb.brute_force_knn,
           np.ones((5, 2), int), 1)


def test_bad_k_and_queries(tree, coords):
    raises(ValueError, r"k: must be between 1 and the number of points 50 \(got 0\)", tree.knn, 0)
    raises(ValueError, r"\(got 51\)", tree.knn, 51)
    raises(ValueError, r"\(got -2\)", tree.knn, -2)
    raises(ValueError, r"queries entry 1 is 50, outside \[0, 50\)", tree.knn, 3,
           queries=np.array([0, 50]))
    raises(ValueError, r"queries entry 0 is -1", tree.knn, 3, queries=[-1])
    raises(TypeError, "queries must be integer dataset indices", tree.knn, 3,
           queries=np.array([0.0, 1.0]))
    raises(ValueError, "queries must be a 1-D array", tree.knn, 3, queries=np.zeros((2, 2), int))
    raises(ValueError, r"k: must be between", ctb.brute_force_knn, coords, 60)
    euclid = ctb.cover_tree(coords)
    raises(ValueError, r"queries must be Q x d coordinates with d = 2", euclid.knn, 3,
           queries=np.zeros((4, 3)))
    raises(ValueError, r"queries: point 1 has a NaN", euclid.knn, 3,
           queries=np.array([[0.0, 0.0], [np.nan, 0.0]]))
    raises(ValueError, "predecessor_mode: needs dataset points", euclid.knn, 3,
           queries=np.zeros((4, 2)), predecessor_mode=True)
    raises(ValueError, r"threads: must be between 1 and 4096 \(got 0\)", tree.knn, 3, threads=0)


def test_bad_v_and_p(coords):
    rbf = ctb.kernels.RBF()
    v = np.random.default_rng(1).normal(size=(50, 4)) * 0.1
    p = 1.0 - (v * v).sum(1)
    raises(ValueError, "v_matrix must be n x m with n = 50", ctb.cover_tree, coords,
           v_matrix=v[:40], p_diag=p)
    raises(ValueError, "p_diag must have n = 50 entries", ctb.cover_tree, coords,
           v_matrix=v, p_diag=p[:49])
    bad = v.copy()
    bad[7, 2] = np.nan
    raises(ValueError, "v_matrix: row 7 has a NaN", ctb.cover_tree, coords, v_matrix=bad,
           p_diag=p)
    bad_p = p.copy()
    bad_p[4] = -1.0
    raises(ValueError, r"p_diag: entry 4 is -1 \(p must be finite and > 0\)", ctb.cover_tree,
           coords, v_matrix=v, p_diag=bad_p)
    raises(ValueError, "p_diag: needed with v_matrix", ctb.cover_tree, coords, v_matrix=v)
    raises(ValueError, "p_diag: only with v_matrix", ctb.cover_tree, coords, kernel=rbf,
           p_diag=p)
    raises(ValueError, "inducing_count: not with v_matrix", ctb.cover_tree, coords,
           v_matrix=v, p_diag=p, inducing_count=4)
    raises(ValueError, "kernel_diag: entry 0 is 2", ctb.cover_tree, coords, v_matrix=v,
           p_diag=p, kernel_diag=np.full(50, 2.0))
    # p inconsistent with V and the kernel: a warning, the tree is still built
    with pytest.warns(RuntimeWarning, match=r"p_diag: p\[\d+\] = 0.5 but variance - \|V\[\d+\]\|\^2"):
        ctb.cover_tree(coords, v_matrix=v, p_diag=np.full(50, 0.5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ctb.cover_tree(coords, v_matrix=v, p_diag=p)  # consistent: no warning
        ctb.cover_tree(coords, v_matrix=v, p_diag=p + 0.01)  # a nugget: exact, no warning


def test_bad_kernel_and_options(coords):
    class Unknown:
        name, lengthscale, variance = "exponential", 1.0, 1.0

    raises(ValueError, "kernel: unknown kernel 'exponential'", ctb.cover_tree, coords,
           kernel=Unknown())
    raises(TypeError, "kernel: expected covertree_bench.kernels.RBF", ctb.cover_tree, coords,
           kernel="rbf")
    raises(ValueError, r"kernel.lengthscale: must be finite and > 0 \(got -1", ctb.cover_tree,
           coords, kernel=ctb.kernels.Matern52(lengthscale=-1.0))
    raises(ValueError, r"inducing_count: must be between 1 and the number of points 50 \(got 51\)",
           ctb.cover_tree, coords, kernel=ctb.kernels.RBF(), inducing_count=51)
    raises(ValueError, "inducing_count: only for a residual tree", ctb.cover_tree, coords,
           inducing_count=5)
    raises(ValueError, "build_strategy: unknown 'fast'", ctb.cover_tree, coords,
           build_strategy="fast")
    raises(ValueError, "threads: must be between", ctb.cover_tree, coords, threads=-1)
    raises(ValueError, "seed: must be >= 0", ctb.cover_tree, coords, kernel=ctb.kernels.RBF(),
           seed=-3)


@pytest.mark.skipif(not CLI.exists(), reason=f"{CLI} not built")
def test_messages_match_the_cli(tmp_path, coords):
    """The module's message is the CLI's, with the argument's name in place of the flag."""
    np.save(tmp_path / "x.npy", coords)
    bad = coords.copy()
    bad[9, 0] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    np.save(tmp_path / "q.npy", np.array([2, 77]))

    def cli_error(*args):
        run = subprocess.run([str(CLI), "knn", "--out-indices", str(tmp_path / "i.npy"), *args],
                             capture_output=True, text=True)
        assert run.returncode == 2
        return run.stderr.strip().splitlines()[-1]

    tree = ctb.cover_tree(coords, kernel=ctb.kernels.RBF(), inducing_count=10)
    cli = cli_error("--points", str(tmp_path / "x.npy"), "--k", "51")
    py = raises(ValueError, "k:", tree.knn, 51)
    assert cli.endswith("--" + py)
    cli = cli_error("--points", str(tmp_path / "nan.npy"), "--k", "3")
    py = raises(ValueError, "coords:", ctb.cover_tree, bad)
    assert cli.endswith("--points" + py.removeprefix("coords"))
    cli = cli_error("--points", str(tmp_path / "x.npy"), "--k", "3", "--queries",
                    str(tmp_path / "q.npy"))
    py = raises(ValueError, "queries entry", tree.knn, 3, queries=np.array([2, 77]))
    assert cli.endswith("--" + py)
