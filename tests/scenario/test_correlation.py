"""Tests of revsim.scenario.correlation: rank correlations through a Gaussian copula."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from revsim.errors import InputError
from revsim.scenario.correlation import (
    check_correlation_matrix,
    correlate_uniforms,
    rank_to_normal_correlation,
)


def refused(matrix, names) -> str:
    with pytest.raises(InputError) as excinfo:
        check_correlation_matrix(np.array(matrix, dtype=float), names)
    assert len(excinfo.value.problems) == 1
    return excinfo.value.problems[0].message


def test_rank_to_normal_correlation():
    rho = np.array([[1.0, 0.5, -0.3], [0.5, 1.0, 0.0], [-0.3, 0.0, 1.0]])
    normal = rank_to_normal_correlation(rho)
    np.testing.assert_allclose(normal, 2 * np.sin(np.pi * rho / 6))
    np.testing.assert_array_equal(np.diag(normal), [1.0, 1.0, 1.0])
    assert normal[1, 2] == 0.0
    assert rank_to_normal_correlation(np.array(-1.0)) == -1.0
    # a normal correlation is always a little larger in size than the rank correlation it gives
    assert abs(normal[0, 1]) > 0.5 and abs(normal[0, 2]) > 0.3


def test_valid_matrices_pass():
    check_correlation_matrix(np.eye(3), ["a", "b", "c"])
    check_correlation_matrix(np.array([[1, 0.6], [0.6, 1]]), ["a", "b"])
    check_correlation_matrix(np.array([[1, 1.0], [1.0, 1]]), ["a", "b"])  # semi-definite is fine
    check_correlation_matrix(np.empty((0, 0)), [])


def test_non_psd_matrix_is_refused():
    text = refused([[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]], ["a", "b", "c"])
    assert text == (
        "the correlations between a, b, c are inconsistent (the matrix is not positive semi-definite); "
        "smallest eigenvalue -0.8"
    )


def test_non_psd_message_names_only_the_inputs_involved():
    m = np.eye(4)
    m[np.ix_([0, 2, 3], [0, 2, 3])] = [[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]]
    m[0, 1] = m[1, 0] = 0.1
    text = refused(m, ["win_rate", "price", "churn", "expansion"])
    assert text.startswith("the correlations between win_rate, churn, expansion are inconsistent")


@pytest.mark.parametrize(
    ("matrix", "text"),
    [
        ([[1, 0.3], [0.5, 1]], "the correlation between a and b is 0.3 but between b and a it is 0.5"),
        ([[0.9, 0.3], [0.3, 1]], "the correlation of a with itself must be 1, got 0.9"),
        ([[1, 1.3], [1.3, 1]], "the correlation between a and b must be between -1 and 1, got 1.3"),
        ([[1, np.nan], [np.nan, 1]], "the correlation between a and b is not a number"),
    ],
)
def test_malformed_matrices(matrix, text):
    assert text in refused(matrix, ["a", "b"])


def test_shape_mismatch_is_a_bug():
    with pytest.raises(ValueError):
        check_correlation_matrix(np.eye(2), ["a", "b", "c"])


@pytest.mark.slow
def test_correlated_uniforms_have_the_requested_rank_correlation():
    rank = np.array([[1.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 1.0]])
    check_correlation_matrix(rank, ["a", "b", "c"])
    rng = np.random.default_rng(7)
    u = rng.random((200_000, 3))
    v = correlate_uniforms(u, rank_to_normal_correlation(rank))
    assert v.shape == u.shape
    assert np.all((v > 0) & (v < 1))
    spearman = stats.spearmanr(v).statistic
    np.testing.assert_allclose(spearman, rank, atol=0.01)
    # marginals stay uniform
    for j in range(3):
        assert stats.kstest(v[:, j], "uniform").pvalue > 1e-3


def test_uncorrelated_columns_pass_through_unchanged():
    rng = np.random.default_rng(3)
    u = rng.random((1000, 3))
    corr = np.eye(3)
    corr[0, 2] = corr[2, 0] = 0.5
    v = correlate_uniforms(u, corr)
    np.testing.assert_array_equal(v[:, 1], u[:, 1])
    assert not np.array_equal(v[:, 2], u[:, 2])
    # the first row of a Cholesky factor is (1, 0, ...): only the normal round trip's rounding changes it
    np.testing.assert_allclose(v[:, 0], u[:, 0], rtol=0, atol=1e-14)
    np.testing.assert_array_equal(correlate_uniforms(u, np.eye(3)), u)


def test_rows_are_independent_of_each_other():
    rng = np.random.default_rng(11)
    u = rng.random((100, 4))
    corr = rank_to_normal_correlation(
        np.array([[1, 0.5, 0.2, -0.4], [0.5, 1, 0.1, 0.0], [0.2, 0.1, 1, 0.3], [-0.4, 0.0, 0.3, 1]])
    )
    full = correlate_uniforms(u, corr)
    half = correlate_uniforms(u[:50], corr)
    np.testing.assert_array_equal(full[:50], half)
    single = np.vstack([correlate_uniforms(u[i : i + 1], corr) for i in range(100)])
    np.testing.assert_array_equal(full, single)


def test_semi_definite_matrix_uses_an_eigen_square_root():
    rng = np.random.default_rng(5)
    u = rng.random((20_000, 3))
    corr = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    v = correlate_uniforms(u, corr)
    np.testing.assert_allclose(v[:, 0], v[:, 1], atol=1e-9)  # perfectly correlated
    np.testing.assert_array_equal(v[:, 2], u[:, 2])
    assert np.all((v > 0) & (v < 1))


def test_slightly_invalid_matrix_is_repaired():
    # valid as rank correlations (barely), not quite once converted to normal correlations
    rank = np.array([[1.0, 0.7, -0.7], [0.7, 1.0, 0.0], [-0.7, 0.0, 1.0]])
    rng = np.random.default_rng(9)
    v = correlate_uniforms(rng.random((50_000, 3)), rank_to_normal_correlation(rank))
    assert np.all(np.isfinite(v)) and np.all((v > 0) & (v < 1))
    spearman = stats.spearmanr(v).statistic
    np.testing.assert_allclose(spearman, rank, atol=0.03)


def test_shape_errors():
    with pytest.raises(ValueError):
        correlate_uniforms(np.full(5, 0.5), np.eye(1))
    with pytest.raises(ValueError):
        correlate_uniforms(np.full((5, 2), 0.5), np.eye(3))
