"""covertree_bench: exact k-NN with cover trees under the residual-correlation metric
(Vecchia Gaussian processes) and Euclidean distance.

The call shapes follow covertreex, so ``import covertree_bench as ctb`` replaces its import:

    tree = ctb.cover_tree(coords, kernel=ctb.kernels.RBF(lengthscale=1.0, variance=1.0))
    I, D = tree.knn(k=50, predecessor_mode=True, return_distances=True)

See README.md ("Python") for the differences from covertreex (seed=0 by default).
"""

from . import kernels
from ._core import CoverTree, __version__, brute_force_knn, cover_tree

__all__ = ["CoverTree", "__version__", "brute_force_knn", "cover_tree", "kernels"]
