"""Exactness of the module's answers against plain NumPy (residual) and scipy's cKDTree
(Euclidean)."""

import numpy as np
import pytest
from conftest import check_exact, residual_distances, residual_vp
from scipy.spatial import cKDTree

import covertree_bench as ctb

KERNELS = [ctb.kernels.RBF(lengthscale=0.8, variance=1.3),
           ctb.kernels.Matern52(lengthscale=1.1, variance=0.7)]


@pytest.mark.parametrize("kernel", KERNELS, ids=["rbf", "matern52"])
@pytest.mark.parametrize("strategy", ["euclidean-hybrid", "pure-residual"])
def test_residual_kernel_all_points_and_predecessors(points, kernel, strategy):
    m, k = 40, 12
    v, p = residual_vp(points, kernel, m, seed=3)
    full = residual_distances(points, kernel, v, p)
    tree = ctb.cover_tree(points, kernel=kernel, inducing_count=m, seed=3,
                          build_strategy=strategy, threads=2)
    ids = np.arange(len(points))
    indices = tree.knn(k)
    assert indices.dtype == np.int64 and indices.shape == (len(points), k)
    _, dist = tree.knn(k=k, return_distances=True)
    check_exact(indices, dist, full, ids, k)
    assert np.all(indices[:, 0] == ids)  # every point finds itself first (distance 0)
    indices, dist = tree.knn(k=k, predecessor_mode=True, return_distances=True)
    check_exact(indices, dist, full, ids, k, predecessor=True)
    assert np.all(indices[0] == -1) and np.all(indices[3, 3:] == -1)
    queries = np.array([3, 17, 599, 17])
    indices, dist = tree.knn(k=k, queries=queries, return_distances=True)
    check_exact(indices, dist, full, queries, k)
    # brute_force_knn takes the same arguments and must agree exactly
    bi, bd = ctb.brute_force_knn(points, k, kernel=kernel, inducing_count=m, seed=3,
                                 queries=queries, return_distances=True)
    np.testing.assert_array_equal(bi, indices)
    np.testing.assert_array_equal(bd, dist)


def test_user_v_and_p(points, rbf):
    v, p = residual_vp(points, rbf, 30, seed=5)
    full = residual_distances(points, rbf, v, p)
    tree = ctb.cover_tree(points, v_matrix=v, p_diag=p, kernel=rbf,
                          kernel_diag=np.full(len(points), rbf.variance))
    ids = np.arange(len(points))
    for pred in (False, True):
        indices, dist = tree.knn(8, predecessor_mode=pred, return_distances=True)
        check_exact(indices, dist, full, ids, 8, predecessor=pred)
        bi, bd = ctb.brute_force_knn(points, 8, v_matrix=v, p_diag=p, kernel=rbf,
                                     predecessor_mode=pred, return_distances=True)
        np.testing.assert_array_equal(bi, indices)
        np.testing.assert_array_equal(bd, dist)
    # float32, Fortran-ordered V gives the same tree answers as float64 C-ordered V. Rounding V
    # to float32 moves |V_i|^2, so the float64 p is below the rounded V's residual diagonal in
    # about half the rows (by ~1e-7): the module says so.
    v32 = np.asfortranarray(v.astype(np.float32))
    with pytest.warns(RuntimeWarning, match="rows where p is below the residual diagonal"):
        tree32 = ctb.cover_tree(points, v_matrix=v32, p_diag=p, kernel=rbf)
    full32 = residual_distances(points, rbf, v32.astype(np.float64), p)
    indices, dist = tree32.knn(8, return_distances=True)
    check_exact(indices, dist, full32, ids, 8)


def test_duplicate_points(rbf):
    base = np.random.default_rng(11).normal(size=(150, 2))
    coords = np.concatenate([base, base[:40], base[:10]])  # 50 repeated points
    v, p = residual_vp(coords, rbf, 20, seed=0)
    full = residual_distances(coords, rbf, v, p)
    ids = np.arange(len(coords))
    tree = ctb.cover_tree(coords, kernel=rbf, inducing_count=20)
    for pred in (False, True):
        indices, dist = tree.knn(6, predecessor_mode=pred, return_distances=True)
        check_exact(indices, dist, full, ids, 6, predecessor=pred)
    # Euclidean duplicates: distance exactly 0, ties broken by the lower index
    e = ctb.cover_tree(coords)
    indices, dist = e.knn(3, return_distances=True)
    assert indices[150, 0] == 0 and indices[150, 1] == 150 and dist[150, 1] == 0.0
    assert indices[190, :3].tolist() == [0, 150, 190]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
def test_euclidean_matches_ckdtree(dtype, order):
    rng = np.random.default_rng(21)
    coords = np.asarray(rng.uniform(size=(2000, 4)), dtype=dtype, order=order)
    reference = cKDTree(coords.astype(np.float64))
    k = 7
    tree = ctb.cover_tree(coords)
    indices, dist = tree.knn(k, return_distances=True)
    want_d, want_i = reference.query(coords.astype(np.float64), k)
    np.testing.assert_allclose(dist, want_d, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(indices, want_i)  # random reals: no ties
    queries = np.asarray(rng.uniform(size=(300, 4)), dtype=dtype, order=order)
    indices, dist = tree.knn(k, queries=queries, return_distances=True)
    want_d, want_i = reference.query(queries.astype(np.float64), k)
    np.testing.assert_allclose(dist, want_d, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(indices, want_i)
    bi, bd = ctb.brute_force_knn(coords, k, queries=queries, return_distances=True)
    np.testing.assert_array_equal(bi, indices)
    np.testing.assert_allclose(bd, dist, rtol=0, atol=1e-12)


def test_stats_and_build_time(points, rbf):
    tree = ctb.cover_tree(points, kernel=rbf, inducing_count=32, threads=1)
    assert tree.build_time > 0 and tree.n_points == len(points) and tree.threads == 1
    tree.knn(5, queries=np.array([1, 2, 3]))
    stats = tree.stats
    assert stats["queries"] == 3 and stats["distance_evals"] > 0
    assert stats["n"] == len(points) and stats["rank"] == 32 and stats["metric"] == "residual"
    assert stats["build_seconds"] == tree.build_time
    # counters do not depend on the thread count (lib/search/counters.hpp)
    tree.knn(5, queries=np.array([1, 2, 3]), threads=2)
    assert tree.stats["distance_evals"] == stats["distance_evals"]
