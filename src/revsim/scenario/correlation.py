"""Rank correlations between uncertain inputs, honoured with a Gaussian copula.

Scenario files state Spearman rank correlations between inputs. The engine draws independent uniforms, one
column per input, and :func:`correlate_uniforms` gives them the dependence of a Gaussian copula whose normal
correlation matrix comes from :func:`rank_to_normal_correlation`; each input's inverse CDF then turns its
column into values, so the marginals are untouched and the rank correlations are the ones requested.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from revsim.errors import InputError

__all__ = ["rank_to_normal_correlation", "check_correlation_matrix", "correlate_uniforms"]

#: Eigenvalues down to this are rounding, not inconsistency.
PSD_TOLERANCE = 1e-10
_SYMMETRY_TOLERANCE = 1e-12
#: Largest float64 below 1: the correlated uniforms stay strictly inside (0, 1).
_BELOW_ONE = 1.0 - 2.0**-53


def rank_to_normal_correlation(rho_s: np.ndarray) -> np.ndarray:
    """The normal (Pearson) correlations of a Gaussian copula with Spearman correlations ``rho_s``.

    Elementwise ``2 sin(pi rho / 6)``; -1, 0 and 1 map to themselves exactly.
    """
    rho = np.asarray(rho_s, dtype=np.float64)
    normal = 2.0 * np.sin(np.pi * rho / 6.0)
    normal = np.where(np.abs(rho) == 1.0, rho, normal)
    return np.clip(normal, -1.0, 1.0)


def check_correlation_matrix(matrix: np.ndarray, names: Sequence[str], *, path: Sequence[str | int] = ()) -> None:
    """Check that ``matrix`` is a correlation matrix between the inputs ``names``.

    It must be symmetric with a unit diagonal, entries in [-1, 1], and positive semi-definite (no
    eigenvalue below -1e-10). Raises :class:`InputError` naming the inputs concerned otherwise.
    """
    m = np.asarray(matrix, dtype=np.float64)
    names = [str(n) for n in names]
    k = len(names)
    if m.shape != (k, k):
        raise ValueError(f"a correlation matrix between {k} inputs must have shape ({k}, {k}), got {m.shape}")

    def fail(message: str) -> None:
        raise InputError.single(message, path=tuple(path))

    for i in range(k):
        for j in range(k):
            if not np.isfinite(m[i, j]):
                fail(f"the correlation between {names[i]} and {names[j]} is not a number ({m[i, j]})")
    for i in range(k):
        if abs(m[i, i] - 1.0) > _SYMMETRY_TOLERANCE:
            fail(f"the correlation of {names[i]} with itself must be 1, got {m[i, i]:g}")
    for i in range(k):
        for j in range(k):
            if i != j and abs(m[i, j]) > 1.0:
                fail(f"the correlation between {names[i]} and {names[j]} must be between -1 and 1, got {m[i, j]:g}")
    for i in range(k):
        for j in range(i + 1, k):
            if abs(m[i, j] - m[j, i]) > _SYMMETRY_TOLERANCE:
                fail(
                    f"the correlation between {names[i]} and {names[j]} is {m[i, j]:g} but between {names[j]} "
                    f"and {names[i]} it is {m[j, i]:g}; a correlation matrix must be symmetric"
                )
    if k == 0 or np.linalg.eigvalsh(m).min() >= -PSD_TOLERANCE:
        return
    # Name the fewest inputs whose correlations already contradict each other.
    keep = list(range(k))
    for i in range(k):
        trial = [j for j in keep if j != i]
        if len(trial) >= 2 and np.linalg.eigvalsh(m[np.ix_(trial, trial)]).min() < -PSD_TOLERANCE:
            keep = trial
    smallest = float(np.linalg.eigvalsh(m[np.ix_(keep, keep)]).min())
    fail(
        f"the correlations between {', '.join(names[i] for i in keep)} are inconsistent (the matrix is not "
        f"positive semi-definite); smallest eigenvalue {smallest:.2g}"
    )


def _square_root(corr: np.ndarray) -> np.ndarray:
    """A factor ``L`` with ``L @ L.T == corr``: Cholesky, or a symmetric eigen square root when singular.

    A matrix with slightly negative eigenvalues (the rank-to-normal conversion does not always keep a
    valid matrix valid) is repaired: eigenvalues are clipped at 0 and the rows rescaled to unit length,
    so each correlated normal keeps unit variance.
    """
    try:
        return np.linalg.cholesky(corr)
    except np.linalg.LinAlgError:
        pass
    values, vectors = np.linalg.eigh((corr + corr.T) / 2)
    root = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    norms = np.linalg.norm(root, axis=1)
    return root / np.where(norms > 0, norms, 1.0)[:, None]


def correlate_uniforms(u: np.ndarray, normal_corr: np.ndarray) -> np.ndarray:
    """Give independent uniforms the dependence of a Gaussian copula with correlation ``normal_corr``.

    Parameters
    ----------
    u
        ``(n_draws, k)`` independent uniforms in (0, 1).
    normal_corr
        ``(k, k)`` normal correlation matrix (see :func:`rank_to_normal_correlation`).

    Returns
    -------
    ``(n_draws, k)`` uniforms in (0, 1) with the same marginals. Row ``i`` depends only on row ``i`` of
    ``u`` (bit for bit: the product with the square-root factor is accumulated column by column with
    elementwise operations, not with a BLAS product whose blocking could depend on the number of rows).
    Columns of inputs correlated with nothing are returned unchanged.
    """
    from scipy.special import ndtr, ndtri

    u = np.asarray(u, dtype=np.float64)
    corr = np.asarray(normal_corr, dtype=np.float64)
    if u.ndim != 2:
        raise ValueError(f"u must be a 2-d array (draws, inputs), got shape {u.shape}")
    k = u.shape[1]
    if corr.shape != (k, k):
        raise ValueError(f"normal_corr must have shape ({k}, {k}) for {k} inputs, got {corr.shape}")
    out = u.copy()
    off_diagonal = corr - np.diag(np.diag(corr))
    coupled = np.flatnonzero(np.any(off_diagonal != 0, axis=1))
    if coupled.size == 0:
        return out
    factor = _square_root(corr[np.ix_(coupled, coupled)])
    z = ndtri(u[:, coupled])
    mixed = np.zeros_like(z)
    for j in range(coupled.size):
        rows = np.flatnonzero(factor[:, j])
        if rows.size:
            mixed[:, rows] += z[:, j : j + 1] * factor[rows, j]
    out[:, coupled] = np.clip(ndtr(mixed), np.finfo(np.float64).tiny, _BELOW_ONE)
    return out
