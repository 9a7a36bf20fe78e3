"""Kernels of the residual-correlation metric, with covertreex's call shapes.

A kernel here is only its name and hyper-parameters; the distances are computed by the
library (lib/metric) from them.
"""

from dataclasses import dataclass

__all__ = ["Kernel", "RBF", "Matern52"]


@dataclass(frozen=True)
class Kernel:
    """Base of the stationary kernels: k(x, x) = variance for every x."""

    lengthscale: float = 1.0
    variance: float = 1.0
    name = ""  # the library's kernel name (class attribute, not a field)


@dataclass(frozen=True)
class RBF(Kernel):
    """k(x, y) = variance * exp(-|x - y|^2 / (2 lengthscale^2))."""

    name = "rbf"


@dataclass(frozen=True)
class Matern52(Kernel):
    """Matern 5/2: variance * (1 + s + s^2 / 3) exp(-s), s = sqrt(5) |x - y| / lengthscale."""

    name = "matern52"
