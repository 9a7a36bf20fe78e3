"""Shared set-up for the covertree_bench module tests (run: /usr/bin/python3 -m pytest
tests/python with PYTHONPATH=build/release/python, as scripts/test.sh does)."""

import numpy as np
import pytest

import covertree_bench as ctb


def kernel_matrix(kernel, a, b):
    """k(a_i, b_j) for the module's kernels, in plain NumPy."""
    r2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    ls, var = kernel.lengthscale, kernel.variance
    if kernel.name == "rbf":
        return var * np.exp(-0.5 * r2 / ls**2)
    s = np.sqrt(5.0) * np.sqrt(r2) / ls
    return var * (1.0 + s + s * s / 3.0) * np.exp(-s)


def residual_vp(coords, kernel, m, seed=0, jitter=1e-6):
    """V and p as the module builds them: inducing points sort(default_rng(seed).choice(n, m)),
    V = L^-1 k(U, X) with L = chol(k(U, U) + jitter var I), p = max(var - |V_i|^2, 1e-9)."""
    n = len(coords)
    u = np.sort(np.random.default_rng(seed).choice(n, m, replace=False))
    kmm = kernel_matrix(kernel, coords[u], coords[u]) + jitter * kernel.variance * np.eye(m)
    chol = np.linalg.cholesky(kmm)
    v = np.linalg.solve(chol, kernel_matrix(kernel, coords[u], coords)).T
    p = np.maximum(kernel.variance - (v * v).sum(1), 1e-9)
    return v, p


def residual_distances(coords, kernel, v, p):
    """All-pairs residual-correlation distances (spec §1), d_ii = 0."""
    rho = (kernel_matrix(kernel, coords, coords) - v @ v.T) / np.sqrt(
        np.maximum(np.outer(p, p), 1e-18))
    d = np.sqrt(np.maximum(0.0, 1.0 - np.abs(np.clip(rho, -1.0, 1.0))))
    np.fill_diagonal(d, 0.0)
    return d


def check_exact(indices, distances, full, query_ids, k, predecessor=False, atol=1e-8):
    """The answer is an exact k-NN: its distances are the k smallest of each row of `full`
    (restricted to j < i in predecessor mode), every index really lies at its distance, and
    missing neighbours are -1 / +inf. Distance-based, so equal-distance ties may come in any
    order the library's (distance, index) rule picks. Squared distances are compared (d^2 =
    1 - |rho| for the residual metric): rounding in rho moves d = sqrt(1 - |rho|) by up to
    sqrt(rounding) near 0 (duplicate points), d^2 only by the rounding."""
    assert indices.dtype == np.int64 and distances.dtype == np.float64
    assert indices.shape == distances.shape == (len(query_ids), k)
    for row, q in enumerate(query_ids):
        d = full[q].copy()
        if predecessor:
            d[q:] = np.inf
        want = np.sort(d)[:k]
        got_i, got_d = indices[row], distances[row]
        missing = ~np.isfinite(want)
        assert np.array_equal(got_i[missing], np.full(missing.sum(), -1)), (row, got_i)
        assert np.all(np.isinf(got_d[missing]))
        ok = ~missing
        np.testing.assert_allclose(got_d[ok] ** 2, want[ok] ** 2, rtol=0, atol=atol)
        np.testing.assert_allclose(full[q, got_i[ok]] ** 2, got_d[ok] ** 2, rtol=0, atol=atol)
        assert len(set(got_i[ok].tolist())) == ok.sum()  # no index twice
        if predecessor:
            assert np.all(got_i[ok] < q)


@pytest.fixture(scope="session")
def points():
    return np.random.default_rng(7).normal(size=(600, 3))


@pytest.fixture(scope="session")
def rbf():
    return ctb.kernels.RBF(lengthscale=0.8, variance=1.3)
