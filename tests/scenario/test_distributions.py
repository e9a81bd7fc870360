"""Tests of revsim.scenario.distributions: parsing, sampling and domain checks of uncertain inputs."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from revsim.errors import InputError
from revsim.scenario.distributions import (
    Beta,
    Constant,
    Distribution,
    Empirical,
    Gamma,
    LogNormal,
    Normal,
    Pert,
    Posterior,
    Triangular,
    Uniform,
    parse_amount,
    parse_uncertain,
)

Q = np.array([0.05, 0.5, 0.95])


def message(excinfo: pytest.ExceptionInfo[InputError]) -> str:
    problems = excinfo.value.problems
    assert len(problems) == 1
    return problems[0].message


def refused(value, domain="real", **kwargs) -> str:
    with pytest.raises(InputError) as excinfo:
        parse_uncertain(value, domain, **kwargs)
    return message(excinfo)


# ---------------------------------------------------------------------------------------------------------
# Constants and shorthands
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.3, 0.3),
        (7, 7.0),
        ("12M", 12_000_000),
        ("12m", 12_000_000),
        ("250k", 250_000),
        ("250K", 250_000),
        ("1.5B", 1_500_000_000),
        ("1.5b", 1_500_000_000),
        ("12_000", 12_000),
        ("$12M", 12_000_000),
        ("\u20ac250k", 250_000),
        ("\u00a31.5B", 1_500_000_000),
        ("1.1M", 1_100_000),
        (" 42 ", 42),
        ("0.25", 0.25),
    ],
)
def test_constants_and_shorthands(value, expected):
    dist = parse_uncertain(value, "nonnegative")
    assert isinstance(dist, Constant)
    assert dist.is_constant
    assert dist.kind == "constant"
    assert dist.value == expected
    assert dist.mean() == expected
    np.testing.assert_array_equal(dist.ppf(Q), np.full(3, float(expected)))
    assert dist.ppf(Q).dtype == np.float64


def test_negative_shorthand_for_real_inputs():
    assert parse_uncertain("-$5k", "real").mean() == -5000


def test_constant_describe():
    assert parse_uncertain(0.3, "probability").describe() == "0.3"
    assert parse_uncertain("12M", "positive").describe() == "12000000"
    assert str(parse_uncertain(2.5, "real")) == "2.5"


@pytest.mark.parametrize("text", ["12X", "abc", "1.2.3", "M", "12 M M", "1__0", ""])
def test_bad_shorthand_strings(text):
    assert parse_amount(text) is None
    assert f"expected a number, got '{text}'" in refused(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [(True, "got true"), (None, "got nothing"), ({1, 2}, "got a set"), (float("nan"), "finite number, got nan")],
)
def test_wrong_types(value, text):
    assert text in refused(value)


def test_constant_is_frozen():
    dist = parse_uncertain(0.3, "probability")
    with pytest.raises(AttributeError):
        dist.value = 0.4  # type: ignore[misc]


def test_distribution_passes_through():
    beta = Beta(2.0, 3.0)
    assert parse_uncertain(beta, "probability") is beta
    assert "expected a positive number" in refused(Constant(-1.0), "positive")


# ---------------------------------------------------------------------------------------------------------
# Families: quantiles and means against scipy / closed forms
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "domain", "reference", "mean"),
    [
        ({"dist": "beta", "alpha": 2, "beta": 5}, "probability", stats.beta(2, 5), 2 / 7),
        # mean 0.3, sd 0.05 -> kappa = 0.21 / 0.0025 - 1 = 83
        ({"dist": "beta", "mean": 0.3, "sd": 0.05}, "probability", stats.beta(0.3 * 83, 0.7 * 83), 0.3),
        ({"dist": "normal", "mean": 10, "sd": 2}, "real", stats.norm(10, 2), 10.0),
        (
            {"dist": "normal", "mean": 1, "sd": 2, "low": 0, "high": 4},
            "nonnegative",
            stats.truncnorm(-0.5, 1.5, loc=1, scale=2),
            stats.truncnorm(-0.5, 1.5, loc=1, scale=2).mean(),
        ),
        (
            {"dist": "lognormal", "median": 100, "sigma": 0.5},
            "positive",
            stats.lognorm(0.5, scale=100),
            100 * math.exp(0.125),
        ),
        (
            {"dist": "lognormal", "mean": 100, "sd": 30},
            "positive",
            stats.lognorm(math.sqrt(math.log(1.09)), scale=100 / math.sqrt(1.09)),
            100.0,
        ),
        ({"dist": "gamma", "shape": 3, "scale": 2}, "positive", stats.gamma(3, scale=2), 6.0),
        ({"dist": "gamma", "mean": 6, "sd": 3}, "nonnegative", stats.gamma(4, scale=1.5), 6.0),
        ({"dist": "triangular", "low": 1, "mode": 2, "high": 5}, "positive", stats.triang(0.25, loc=1, scale=4), 8 / 3),
        ({"dist": "pert", "min": 0, "mode": 2, "max": 10}, "nonnegative", stats.beta(1.8, 4.2, scale=10), 3.0),
        (
            {"dist": "pert", "min": 0, "mode": 2, "max": 10, "lambda": 2},
            "nonnegative",
            stats.beta(1.4, 2.6, scale=10),
            14 / 4,
        ),
        ({"dist": "uniform", "low": 0.1, "high": 0.3}, "probability", stats.uniform(0.1, 0.2), 0.2),
        ({"dist": "interval", "low": 10, "high": 20}, "real", stats.norm(15, 5 / 1.6448536269514722), 15.0),
        ({"dist": "Normal", "mean": "1.5M", "sd": "100k"}, "real", stats.norm(1.5e6, 1e5), 1.5e6),
    ],
)
def test_family_quantiles_and_mean(spec, domain, reference, mean):
    dist = parse_uncertain(spec, domain)
    assert isinstance(dist, Distribution)
    assert not dist.is_constant
    assert dist.group is None
    values = dist.ppf(Q)
    assert values.dtype == np.float64
    np.testing.assert_allclose(values, reference.ppf(Q), rtol=1e-9)
    assert dist.mean() == pytest.approx(mean, rel=1e-9)
    # the mean agrees with the average of many quantiles
    u = (np.arange(20_000) + 0.5) / 20_000
    assert float(np.mean(dist.ppf(u))) == pytest.approx(mean, rel=1e-3)


def test_closed_forms():
    # normal median is the mean; lognormal median is the median; triangular and uniform quantiles by hand
    assert parse_uncertain({"dist": "normal", "mean": 3, "sd": 1}, "real").ppf(np.array(0.5)) == pytest.approx(3)
    dist = parse_uncertain({"dist": "lognormal", "median": 50, "sigma": 1}, "positive")
    assert dist.ppf(np.array([0.5, 0.95])) == pytest.approx([50, 50 * math.exp(1.6448536269514722)])
    tri = parse_uncertain({"dist": "triangular", "low": 0, "mode": 1, "high": 1}, "real")
    assert tri.ppf(np.array([0.25])) == pytest.approx([0.5])  # F(x) = x^2
    uni = parse_uncertain({"dist": "uniform", "low": 2, "high": 6}, "real")
    np.testing.assert_allclose(uni.ppf(Q), [2.2, 4.0, 5.8])


def test_ppf_keeps_shape():
    u = np.full((4, 3), 0.5)
    for spec, domain in [
        (0.5, "probability"),
        ({"dist": "beta", "alpha": 2, "beta": 2}, "probability"),
        ({"dist": "uniform", "low": 0, "high": 1}, "real"),
    ]:
        out = parse_uncertain(spec, domain).ppf(u)
        assert out.shape == (4, 3)
        assert out.dtype == np.float64


def test_describe():
    assert parse_uncertain({"dist": "beta", "mean": 0.3, "sd": 0.05}, "probability").describe() == (
        "beta(mean=0.3, sd=0.05)"
    )
    assert parse_uncertain({"dist": "normal", "mean": 1, "sd": 2, "low": 0}, "real").describe() == (
        "normal(mean=1, sd=2, low=0)"
    )
    assert parse_uncertain({"dist": "lognormal", "median": "12M", "sigma": 0.3}, "positive").describe() == (
        "lognormal(median=12000000, sigma=0.3)"
    )
    assert parse_uncertain({"dist": "gamma", "shape": 2, "scale": 3}, "positive").describe() == (
        "gamma(shape=2, scale=3)"
    )
    assert parse_uncertain({"dist": "triangular", "low": 1, "mode": 2, "high": 3}, "real").describe() == (
        "triangular(low=1, mode=2, high=3)"
    )
    assert parse_uncertain({"dist": "pert", "min": 1, "mode": 2, "max": 9}, "real").describe() == (
        "pert(min=1, mode=2, max=9)"
    )
    assert parse_uncertain({"dist": "uniform", "low": 1, "high": 2}, "real").describe() == "uniform(low=1, high=2)"


def test_kinds():
    kinds = {
        "beta": ({"dist": "beta", "alpha": 1, "beta": 1}, Beta),
        "normal": ({"dist": "normal", "mean": 0, "sd": 1}, Normal),
        "lognormal": ({"dist": "lognormal", "median": 1, "sigma": 1}, LogNormal),
        "gamma": ({"dist": "gamma", "shape": 1, "scale": 1}, Gamma),
        "triangular": ({"dist": "triangular", "low": 0, "mode": 0, "high": 1}, Triangular),
        "pert": ({"dist": "pert", "min": 0, "mode": 1, "max": 1}, Pert),
        "uniform": ({"dist": "uniform", "low": 0, "high": 1}, Uniform),
    }
    for kind, (spec, cls) in kinds.items():
        dist = parse_uncertain(spec, "real")
        assert isinstance(dist, cls)
        assert dist.kind == kind
        assert dist == parse_uncertain(spec, "real")  # value objects
        hash(dist)


# ---------------------------------------------------------------------------------------------------------
# The [low, high] interval shorthand
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("low", "high", "domain", "family"),
    [
        (0.2, 0.4, "probability", Beta),
        (0.01, 0.03, "probability", Beta),
        (0.001, 0.5, "probability", Beta),
        (1e-5, 1e-3, "probability", Beta),
        (0.05, 0.95, "probability", Beta),
        (0.9, 0.999, "probability", Beta),
        (0.001, 0.999, "probability", Beta),
        (10, 30, "positive", LogNormal),
        ("1M", "3M", "positive", LogNormal),
        (0.5, 2, "nonnegative", LogNormal),
        (-5, 15, "real", Normal),
    ],
)
def test_interval_shorthand_hits_its_quantiles(low, high, domain, family):
    dist = parse_uncertain([low, high], domain)
    assert isinstance(dist, family)
    targets = [parse_amount(str(low)), parse_amount(str(high))]
    np.testing.assert_allclose(dist.ppf(np.array([0.05, 0.95])), targets, rtol=0, atol=1e-6 * max(1, targets[1]))


@pytest.mark.parametrize("domain", ["probability", "positive", "nonnegative", "real"])
@pytest.mark.parametrize("confidence", [0.5, 0.8, 0.95, 0.99])
def test_interval_mapping_with_confidence(domain, confidence):
    dist = parse_uncertain({"dist": "interval", "low": 0.1, "high": 0.3, "confidence": confidence}, domain)
    p = np.array([(1 - confidence) / 2, (1 + confidence) / 2])
    np.testing.assert_allclose(dist.ppf(p), [0.1, 0.3], rtol=0, atol=1e-6)


def test_interval_default_confidence_is_90_percent():
    a = parse_uncertain({"dist": "interval", "low": 0.2, "high": 0.4}, "probability")
    b = parse_uncertain([0.2, 0.4], "probability")
    assert a == b


def test_beta_interval_fit_is_accurate_and_fast():
    grid = [1e-4, 0.01, 0.1, 0.3, 0.5, 0.8, 0.99]
    for i, low in enumerate(grid):
        for high in grid[i + 1 :]:
            dist = parse_uncertain([low, high], "probability")
            np.testing.assert_allclose(dist.ppf(np.array([0.05, 0.95])), [low, high], rtol=0, atol=1e-6)
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        parse_uncertain([0.12, 0.47], "probability")
        timings.append(time.perf_counter() - start)
    assert min(timings) < 0.02


@pytest.mark.parametrize("domain", ["probability", "positive", "nonnegative", "real"])
def test_interval_needs_low_below_high(domain):
    assert refused([0.4, 0.2], domain) == "a 90% interval needs low < high, got [0.4, 0.2]"
    assert "a 80% interval needs low < high, got [0.3, 0.3]" in refused(
        {"dist": "interval", "low": 0.3, "high": 0.3, "confidence": 0.8}, domain
    )


def test_interval_domain_errors():
    assert "for a probability needs 0 < low and high < 1, got [0, 0.2]" in refused([0, 0.2], "probability")
    assert "got [0.5, 1]" in refused([0.5, 1], "probability")
    text = refused([0, 5], "nonnegative")
    assert "low = 0" in text and "dist: gamma" in text and "positive low" in text
    assert "needs low > 0" in refused([-1, 5], "nonnegative")
    assert "for a positive quantity needs low > 0" in refused([0, 5], "positive")
    assert "exactly 2 numbers, got 3" in refused([1, 2, 3])
    assert "exactly 2 numbers, got 1" in refused([1])
    assert "expected a number for high, got 'lots'" in refused([1, "lots"])


@pytest.mark.parametrize("confidence", [0, 1, 1.5, -0.2])
def test_interval_confidence_bounds(confidence):
    text = refused({"dist": "interval", "low": 1, "high": 2, "confidence": confidence})
    assert "confidence of an interval must be between 0 and 1" in text


# ---------------------------------------------------------------------------------------------------------
# Impossible parameters and malformed mappings
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        (
            {"dist": "beta", "mean": 1.2, "sd": 0.1},
            "mean of a beta distribution must be between 0 and 1 (exclusive), got 1.2",
        ),
        ({"dist": "beta", "mean": 0, "sd": 0.1}, "between 0 and 1 (exclusive), got 0"),
        ({"dist": "beta", "mean": 0.3, "sd": 0}, "sd of a beta distribution must be positive, got 0"),
        ({"dist": "beta", "mean": 0.3, "sd": -0.1}, "must be positive, got -0.1"),
        ({"dist": "beta", "mean": 0.3, "sd": 0.5}, "must be below sqrt(mean * (1 - mean)) = 0.4583, got 0.5"),
        ({"dist": "beta", "alpha": 0, "beta": 2}, "alpha of a beta distribution must be positive, got 0"),
        ({"dist": "beta", "alpha": 2, "beta": -1}, "beta of a beta distribution must be positive, got -1"),
        ({"dist": "normal", "mean": 0, "sd": 0}, "sd of a normal distribution must be positive, got 0"),
        ({"dist": "normal", "mean": 0, "sd": 1, "low": 2, "high": 1}, "needs low < high, got low 2 and high 1"),
        ({"dist": "lognormal", "median": 0, "sigma": 1}, "median of a lognormal distribution must be positive, got 0"),
        ({"dist": "lognormal", "median": 1, "sigma": -1}, "sigma of a lognormal distribution must be positive, got -1"),
        ({"dist": "lognormal", "mean": -3, "sd": 1}, "mean of a lognormal distribution must be positive, got -3"),
        ({"dist": "lognormal", "mean": 3, "sd": 0}, "sd of a lognormal distribution must be positive, got 0"),
        ({"dist": "gamma", "shape": 0, "scale": 1}, "shape of a gamma distribution must be positive, got 0"),
        ({"dist": "gamma", "shape": 1, "scale": -2}, "scale of a gamma distribution must be positive, got -2"),
        ({"dist": "gamma", "mean": 2, "sd": 0}, "sd of a gamma distribution must be positive, got 0"),
        ({"dist": "triangular", "low": 1, "mode": 5, "high": 3}, "mode 5 outside [1, 3]"),
        ({"dist": "triangular", "low": 3, "mode": 3, "high": 3}, "needs low < high, got low 3 and high 3"),
        (
            {"dist": "pert", "min": 1, "mode": 12, "max": 10},
            "mode of a pert distribution must be between min and max, got mode 12 outside [1, 10]",
        ),
        ({"dist": "pert", "min": 5, "mode": 5, "max": 1}, "needs min < max, got min 5 and max 1"),
        (
            {"dist": "pert", "min": 0, "mode": 1, "max": 2, "lambda": 0},
            "lambda of a pert distribution must be positive, got 0",
        ),
        ({"dist": "uniform", "low": 2, "high": 2}, "a uniform distribution needs low < high, got low 2 and high 2"),
    ],
)
def test_impossible_parameters(spec, text):
    assert text in refused(spec)


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        ({"dist": "betta", "mean": 0.3, "sd": 0.1}, "unknown distribution 'betta'"),
        ({"dist": "lognorml", "median": 1, "sigma": 1}, "did you mean 'lognormal'?"),
        ({"dist": "beta", "meen": 0.3, "sd": 0.1}, "unknown key 'meen' for dist: beta"),
        ({"dist": "beta", "meen": 0.3, "sd": 0.1}, "did you mean 'mean'?"),
        ({"dist": "normal", "mean": 0, "sd": 1, "hihg": 3}, "did you mean 'high'?"),
        ({"dist": "beta", "mean": 0.3}, "missing the required key 'sd'"),
        ({"dist": "triangular", "mode": 1}, "missing the required keys 'low', 'high'"),
        ({"dist": "beta"}, "dist: beta needs mean, sd or alpha, beta"),
        ({"dist": "beta", "mean": 0.3, "alpha": 2}, "either mean and sd or alpha and beta"),
        ({"dist": "normal", "mean": "abc", "sd": 1}, "expected a number for mean, got 'abc'"),
        ({"dist": "normal", "mean": 0, "sd": [1, 2]}, "expected a number for sd, got a list"),
        ({"dist": "normal", "mean": 0, "sd": True}, "expected a number for sd, got true"),
        ({"dist": 3}, "dist must be the name of a distribution"),
        ({"mean": 0.3, "sd": 0.1}, "a distribution needs a 'dist' key"),
        ({"dsit": "beta", "mean": 0.3, "sd": 0.1}, "did you mean 'dist' instead of 'dsit'?"),
        ({}, "got an empty mapping"),
    ],
)
def test_malformed_mappings(spec, text):
    assert text in refused(spec, "probability")


def test_errors_carry_the_path():
    with pytest.raises(InputError) as excinfo:
        parse_uncertain({"dist": "beta", "mean": 1.5, "sd": 0.1}, "probability", path=("funnel", "stages", 2, "rate"))
    problem = excinfo.value.problems[0]
    assert problem.path == ("funnel", "stages", 2, "rate", "mean")
    assert str(excinfo.value).startswith("funnel.stages[2].rate.mean: the mean of a beta")
    with pytest.raises(InputError) as excinfo:
        parse_uncertain(1.2, "probability", path=("churn",))
    assert excinfo.value.problems[0].path == ("churn",)


# ---------------------------------------------------------------------------------------------------------
# Domains
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "domain", "text"),
    [
        (1.2, "probability", "expected a probability between 0 and 1, got 1.2"),
        (-0.1, "probability", "expected a probability between 0 and 1, got -0.1"),
        (0, "positive", "expected a positive number, got 0"),
        ("-5k", "positive", "expected a positive number, got -5000"),
        (-1, "nonnegative", "expected a number >= 0, got -1"),
        ({"dist": "lognormal", "median": 0.1, "sigma": 0.2}, "probability", "use dist: beta or a [low, high] interval"),
        ({"dist": "gamma", "shape": 2, "scale": 0.1}, "probability", "gamma distribution has no upper bound"),
        ({"dist": "normal", "mean": 0.3, "sd": 0.05}, "probability", "expected a probability between 0 and 1"),
        ({"dist": "normal", "mean": 0.3, "sd": 0.05, "low": 0}, "probability", "ranging from 0 to inf"),
        ({"dist": "normal", "mean": 0.3, "sd": 0.05, "low": -0.1, "high": 1}, "probability", "truncate it"),
        ({"dist": "normal", "mean": 5, "sd": 1}, "positive", "truncate it with low: 0"),
        ({"dist": "normal", "mean": 5, "sd": 1, "low": -1}, "nonnegative", "expected a number >= 0"),
        (
            {"dist": "uniform", "low": 0.5, "high": 1.5},
            "probability",
            "uniform(low=0.5, high=1.5) ranges from 0.5 to 1.5",
        ),
        ({"dist": "triangular", "low": -1, "mode": 0, "high": 1}, "positive", "expected a positive number"),
        ({"dist": "pert", "min": 0, "mode": 1, "max": 2}, "probability", "ranges from 0 to 2"),
        ({"dist": "uniform", "low": -1, "high": 3}, "nonnegative", "expected a number >= 0"),
    ],
)
def test_domain_mismatches(value, domain, text):
    assert text in refused(value, domain)


@pytest.mark.parametrize(
    ("value", "domain"),
    [
        (0, "probability"),
        (1, "probability"),
        (0, "nonnegative"),
        ({"dist": "normal", "mean": 0.3, "sd": 0.1, "low": 0, "high": 1}, "probability"),
        ({"dist": "normal", "mean": 0.3, "sd": 0.1, "low": 0.1, "high": 0.9}, "probability"),
        ({"dist": "normal", "mean": 5, "sd": 1, "low": 0}, "positive"),
        ({"dist": "uniform", "low": 0, "high": 1}, "probability"),
        ({"dist": "uniform", "low": 0, "high": 3}, "positive"),
        ({"dist": "triangular", "low": 0, "mode": 0.1, "high": 0.5}, "probability"),
        ({"dist": "pert", "min": 0, "mode": 0.2, "max": 1}, "probability"),
        ({"dist": "lognormal", "median": 1, "sigma": 1}, "positive"),
        ({"dist": "gamma", "mean": 1, "sd": 2}, "nonnegative"),
        ({"dist": "normal", "mean": -5, "sd": 1}, "real"),
        (-3, "real"),
    ],
)
def test_domain_matches(value, domain):
    parse_uncertain(value, domain)


def test_unknown_domain_is_a_bug():
    with pytest.raises(ValueError):
        parse_uncertain(1, "percent")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------------
# Empirical
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def deals_csv(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "deals.csv"
    path.parent.mkdir()
    path.write_text("region,deal_size,win\nEU,1200,0.2\nUS,800,0.3\nEU,1500,0.25\nUS,950,0.4\nAPAC,1100,\n")
    return path


def test_empirical_first_numeric_column(deals_csv: Path):
    spec = {"dist": "empirical", "file": "data/deals.csv"}
    dist = parse_uncertain(spec, "positive", base_dir=deals_csv.parent.parent)
    assert isinstance(dist, Empirical)
    assert dist.kind == "empirical"
    assert dist.column == "deal_size"
    samples = np.array([1200, 800, 1500, 950, 1100], dtype=float)
    u = np.array([0.01, 0.2, 0.21, 0.5, 0.99])
    np.testing.assert_array_equal(dist.ppf(u), np.quantile(samples, u, method="inverted_cdf"))
    assert set(dist.ppf(np.linspace(0.001, 0.999, 101))) <= set(samples)
    assert dist.mean() == pytest.approx(samples.mean())
    assert dist.support() == (800, 1500)
    assert dist.describe() == "empirical(data/deals.csv, column=deal_size, n=5)"


def test_empirical_named_column_skips_blank_cells(deals_csv: Path):
    spec = {"dist": "empirical", "file": "deals.csv", "column": "win"}
    dist = parse_uncertain(spec, "probability", base_dir=deals_csv.parent)
    np.testing.assert_array_equal(np.sort(dist.samples), [0.2, 0.25, 0.3, 0.4])


def test_empirical_absolute_path_and_headerless(tmp_path: Path):
    path = tmp_path / "values.csv"
    path.write_text("3\n1\n2\n")
    from revsim.scenario.file_access import allow_files

    assert "is outside the scenario's folder" in refused({"dist": "empirical", "file": str(path)},
                                                         base_dir=Path("/elsewhere"))
    with allow_files([tmp_path]):  # a file outside the scenario's folder is read once its directory is allowed
        dist = parse_uncertain({"dist": "empirical", "file": str(path)}, "positive", base_dir=Path("/elsewhere"))
    np.testing.assert_array_equal(np.sort(dist.samples), [1, 2, 3])


def test_empirical_errors(deals_csv: Path, tmp_path: Path):
    base = deals_csv.parent
    assert "cannot find the file 'nope.csv'" in refused({"dist": "empirical", "file": "nope.csv"}, base_dir=base)
    text = refused({"dist": "empirical", "file": "deals.csv", "column": "deal_sise"}, base_dir=base)
    assert "has no column 'deal_sise'" in text and "did you mean 'deal_size'?" in text
    text = refused({"dist": "empirical", "file": "deals.csv", "column": "region"}, base_dir=base)
    assert "not a finite number: 'EU' (line 2)" in text
    (tmp_path / "text.csv").write_text("name\nalpha\nbeta\n")
    assert "has no numeric column" in refused({"dist": "empirical", "file": "text.csv"}, base_dir=tmp_path)
    (tmp_path / "one.csv").write_text("x\n5\n")
    assert "at least 2 values" in refused({"dist": "empirical", "file": "one.csv"}, base_dir=tmp_path)
    (tmp_path / "bad.csv").write_text("x\n5\n6\nseven\n")
    text = refused({"dist": "empirical", "file": "bad.csv", "column": "x"}, base_dir=tmp_path)
    assert "'seven' (line 4)" in text
    (tmp_path / "empty.csv").write_text("")
    assert "is empty" in refused({"dist": "empirical", "file": "empty.csv"}, base_dir=tmp_path)
    assert "expected a probability between 0 and 1, but the values in 'deals.csv' range from 800 to 1500" in refused(
        {"dist": "empirical", "file": "deals.csv", "column": "deal_size"}, "probability", base_dir=base
    )
    (tmp_path / "zeros.csv").write_text("x\n0\n1\n")
    assert "range from 0 to 1" in refused({"dist": "empirical", "file": "zeros.csv"}, "positive", base_dir=tmp_path)
    parse_uncertain({"dist": "empirical", "file": "zeros.csv"}, "nonnegative", base_dir=tmp_path)


def test_empirical_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import revsim.scenario.distributions.samples as module

    (tmp_path / "big.csv").write_text("x\n" + "123456\n" * 200)
    monkeypatch.setattr(module, "EMPIRICAL_MAX_BYTES", 1000)
    assert "MB; an empirical distribution reads files of at most" in refused(
        {"dist": "empirical", "file": "big.csv"}, base_dir=tmp_path
    )


# ---------------------------------------------------------------------------------------------------------
# Posterior
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def posterior_nc(tmp_path: Path) -> Path:
    xr = pytest.importorskip("xarray")
    rng = np.random.default_rng(1)
    chains, draws = 2, 50
    churn = rng.beta(2, 30, size=(chains, draws, 2))
    growth = rng.normal(0.02, 0.01, size=(chains, draws))
    ds = xr.Dataset(
        {
            "churn": (("chain", "draw", "segment"), churn),
            "growth": (("chain", "draw"), growth),
        },
        coords={"chain": np.arange(chains), "draw": np.arange(draws), "segment": ["smb", "ent"]},
    )
    path = tmp_path / "fit.nc"
    ds.to_netcdf(path, group="posterior", engine="h5netcdf")
    xr.Dataset({"y": (("obs",), np.zeros(3))}).to_netcdf(path, group="observed_data", mode="a", engine="h5netcdf")
    return path


def test_posterior_samples_and_group(posterior_nc: Path):
    import xarray as xr

    base = posterior_nc.parent
    def churn(segment: str) -> dict:
        return {"dist": "posterior", "file": "fit.nc", "var": "churn", "coords": {"segment": segment}}

    smb = parse_uncertain(churn("smb"), "probability", base_dir=base)
    ent = parse_uncertain(churn("ent"), "probability", base_dir=base)
    growth = parse_uncertain({"dist": "posterior", "file": str(posterior_nc), "var": "growth"}, "real")
    assert isinstance(smb, Posterior)
    assert smb.kind == "posterior"
    assert smb.group == ent.group == growth.group == str(posterior_nc.resolve())

    with xr.open_dataset(posterior_nc, group="posterior", engine="h5netcdf") as ds:
        stacked = ds["churn"].sel(segment="smb").stack(sample=("chain", "draw")).values
        stacked_growth = ds["growth"].stack(sample=("chain", "draw")).values
    n = stacked.size
    assert n == 100
    u = np.array([1e-9, 0.004, 0.013, 0.5, 0.505, 0.999, 1 - 1e-16])
    index = np.minimum(np.floor(u * n).astype(int), n - 1)
    np.testing.assert_array_equal(smb.ppf(u), stacked[index])
    np.testing.assert_array_equal(growth.ppf(u), stacked_growth[index])
    assert smb.mean() == pytest.approx(stacked.mean())
    assert smb.describe() == "posterior(fit.nc: churn[segment=smb], n=100)"


def test_posterior_without_group(tmp_path: Path):
    xr = pytest.importorskip("xarray")
    values = np.arange(12, dtype=float).reshape(3, 4) + 1
    xr.Dataset({"price": (("chain", "draw"), values)}).to_netcdf(tmp_path / "root.nc", engine="h5netcdf")
    dist = parse_uncertain({"dist": "posterior", "file": "root.nc", "var": "price"}, "positive", base_dir=tmp_path)
    np.testing.assert_array_equal(dist.ppf(np.array([0.0, 0.26, 0.99])), [1, 4, 12])


def test_posterior_errors(posterior_nc: Path, tmp_path: Path):
    base = posterior_nc.parent

    def post(**kwargs) -> dict:
        return {"dist": "posterior", "file": "fit.nc", **kwargs}

    assert "cannot find the file 'missing.nc'" in refused(
        {"dist": "posterior", "file": "missing.nc", "var": "churn"}, base_dir=base
    )
    text = refused(post(var="chrun", coords={"segment": "smb"}), base_dir=base)
    assert "has no variable 'chrun'" in text and "did you mean 'churn'?" in text
    text = refused(post(var="churn", coords={"segmnt": "smb"}), base_dir=base)
    assert "no dimension 'segmnt'" in text and "did you mean 'segment'?" in text
    text = refused(post(var="churn", coords={"segment": "smbb"}), base_dir=base)
    assert "'smbb' is not a segment" in text and "did you mean 'smb'?" in text
    text = refused(post(var="churn"), base_dir=base)
    assert "besides chain and draw" in text and "segment: one of smb, ent" in text
    assert "missing the required key 'var'" in refused({"dist": "posterior", "file": "fit.nc"}, base_dir=base)
    text = refused(post(var="growth"), "positive", base_dir=base)
    assert "expected a positive number, but the samples of 'growth'" in text
    (tmp_path / "plain.nc").write_text("not netcdf")
    assert "cannot read 'plain.nc' as a netCDF4 file" in refused(
        {"dist": "posterior", "file": "plain.nc", "var": "x"}, base_dir=tmp_path
    )


def test_samples_of_a_file_can_be_shifted_and_scaled(posterior_nc: Path, deals_csv: Path):
    base = posterior_nc.parent
    spec = {"dist": "posterior", "file": "fit.nc", "var": "churn", "coords": {"segment": "smb"}}
    plain = parse_uncertain(spec, "probability", base_dir=base)
    moved = parse_uncertain({**spec, "shift": 0.01, "scale": 2}, "probability", base_dir=base)
    u = np.linspace(0.001, 0.999, 57)
    np.testing.assert_allclose(moved.ppf(u), plain.ppf(u) * 2 + 0.01, rtol=0, atol=1e-15)  # the same samples
    np.testing.assert_array_equal(moved.samples, plain.samples)  # as read from the file
    assert moved.mean() == pytest.approx(plain.mean() * 2 + 0.01)
    assert moved.group == plain.group
    assert moved.describe() == "posterior(fit.nc: churn[segment=smb], n=100) scaled by 2 and shifted by +0.01"
    deals = parse_uncertain({"dist": "empirical", "file": "deals.csv", "column": "deal_size", "shift": "-500"},
                            "positive", base_dir=deals_csv.parent)
    assert deals.support() == (300, 1000)
    text = refused({"dist": "empirical", "file": "deals.csv", "column": "deal_size", "shift": -800}, "positive",
                   base_dir=deals_csv.parent)
    assert "but the values in 'deals.csv' shifted by -800 range from 0 to 700" in text
    assert "expected a number" in refused({**spec, "scale": "twice"}, "probability", base_dir=base)
    assert "shifted by +0.9 range from" in refused({**spec, "shift": 0.9}, "probability", base_dir=base)


def test_a_posterior_file_is_read_once_while_it_is_unchanged(posterior_nc: Path, monkeypatch: pytest.MonkeyPatch):
    import xarray as xr

    import revsim.scenario.posterior_file as module

    reads = []
    original = module._read
    monkeypatch.setattr(module, "_read", lambda *args: reads.append(args[0]) or original(*args))
    module.clear_cache()
    base = posterior_nc.parent
    for segment in ("smb", "ent", "smb"):
        parse_uncertain({"dist": "posterior", "file": "fit.nc", "var": "churn", "coords": {"segment": segment}},
                        "probability", base_dir=base)
    parse_uncertain({"dist": "posterior", "file": "fit.nc", "var": "growth"}, "real", base_dir=base)
    assert len(reads) == 1
    # a file written again is read again
    xr.Dataset({"growth": (("chain", "draw"), np.full((2, 3), 0.5))}).to_netcdf(
        posterior_nc, group="posterior", engine="h5netcdf")
    growth = parse_uncertain({"dist": "posterior", "file": "fit.nc", "var": "growth"}, "real", base_dir=base)
    assert len(reads) == 2 and growth.mean() == 0.5


@pytest.mark.parametrize(
    ("low", "high"), [(0.0, math.inf), (5.0, 9.0), (-1.0, 1.0), (-math.inf, -3.0), (2.5, math.inf), (-12.0, -11.0)]
)
def test_truncated_normal_quantiles_hold_in_the_tails(low, high):
    """Quantiles from scipy.special match scipy.stats.truncnorm over the whole interval, tails included."""
    spec = {"dist": "normal", "mean": 0, "sd": 1}
    spec.update({key: bound for key, bound in (("low", low), ("high", high)) if math.isfinite(bound)})
    dist = parse_uncertain(spec, "real")
    u = np.concatenate([np.linspace(1e-9, 1 - 1e-9, 201), [1e-12, 0.5]])
    values = dist.ppf(u)
    assert np.all((values >= low) & (values <= high))
    np.testing.assert_allclose(values, stats.truncnorm(low, high).ppf(u), rtol=1e-6, atol=1e-9)
    assert dist.mean() == pytest.approx(stats.truncnorm(low, high).mean(), rel=1e-9)


def test_drawing_inputs_does_not_import_scipy_stats():
    """scipy.stats takes about half a second to import: a run's inputs are drawn with scipy.special only."""
    import subprocess
    import sys

    code = (
        "import sys; from revsim.scenario.load import load_scenario; from revsim.engine.compile import "
        "compile_scenario; c = compile_scenario(load_scenario('scenarios/saas_sales_led.yaml')); "
        "c.draw_parameters(0, 0, 10); print('scipy.stats' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
