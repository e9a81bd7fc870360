"""The engine against closed-form results.

Each test builds a minimal scenario whose outputs have a known distribution, simulates a few thousand draws
and compares Monte Carlo statistics with the exact values. Tolerances come from the Monte Carlo standard
error, never from a guess: the mean of N draws passes when ``|mean - expected| <= Z * sd / sqrt(N)``, with
``sd`` the exact standard deviation of one draw wherever it is known. With Z = 4.5 a correct engine fails
one comparison with probability about 7e-6 (normal approximation); the seeds are fixed, so every run is
reproducible, and the several hundred comparisons in this file together fail by chance with probability
well below 1%.

Conventions of the kernel that the expected values rely on (see :mod:`revsim.engine.kernels`):

* a cohort is ``age + t`` months old in month ``t`` (book cohorts start at ``age_months`` >= 1, a cohort
  won in the month at 0); it renews at every age >= 1 that is a multiple of its contract months, and only then churns;
* a member of an acquisition stage leaves it in a month with probability ``h = 1 / (1 + months)``, already
  in the month it enters, and a leaver converts with probability ``conversion``;
* a loop in month ``t`` reads its source at index ``t - lag + 1`` of a history whose index 0 is the state
  before the first month, i.e. the state at the end of month ``t - lag``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import betaln

from revsim.engine.compile import compile_scenario
from revsim.pipeline import simulate
from revsim.errors import InputError
from revsim.results.invariants import bridge_residual, check_invariants
from revsim.scenario.load import LoadedScenario, scenario_from_dict

Z = 4.5
DRAWS = 1500
SEED = 20270101


# -- helpers -----------------------------------------------------------------------------------------------------


def run(scenario: LoadedScenario, draws: int = DRAWS, seed: int = SEED):
    return simulate(scenario, draws=draws, seed=seed, threads=2)


def total(ds, name: str) -> np.ndarray:
    """``ds[name]`` summed over segments, as a ``[draw, month, ...]`` array."""
    return ds[name].sum("segment").values


def book(customers: int, *, age: int, mrr_each: float = 100.0) -> list[dict]:
    return [{"customers": customers, "mrr": customers * mrr_each, "age_months": age}]


def assert_mean(samples, expected, sd, *, slack=0.0, what: str = "mean") -> None:
    """The mean over draws (axis 0) of ``samples`` is ``expected`` within ``Z`` standard errors.

    ``sd`` is the standard deviation of one draw; ``slack`` a known bound on a deterministic error (cents
    rounding) added to the tolerance. Where ``sd`` is 0 the mean must be exact.
    """
    samples = np.asarray(samples, dtype=float)
    n = samples.shape[0]
    mean = samples.mean(axis=0)
    expected = np.broadcast_to(np.asarray(expected, dtype=float), mean.shape)
    sd = np.broadcast_to(np.asarray(sd, dtype=float), mean.shape)
    tolerance = Z * sd / math.sqrt(n) + slack + 1e-12 * np.abs(expected)
    bad = np.abs(mean - expected) > tolerance
    if bad.any():
        rows = [f"  at {tuple(int(i) for i in index)}: observed {mean[tuple(index)]:.6g}, expected "
                f"{expected[tuple(index)]:.6g} +- {tolerance[tuple(index)]:.3g}" for index in np.argwhere(bad)[:10]]
        pytest.fail(f"{what} off in {int(bad.sum())} of {bad.size} places:\n" + "\n".join(rows))


def assert_variance(samples, variance: float, fourth_moment: float, *, what: str = "variance") -> None:
    """The sample variance of ``samples`` (1-d, one value per draw) is ``variance`` within ``Z`` standard errors.

    For N independent draws, ``Var(s^2) = mu4 / N - sigma^4 (N - 3) / (N (N - 1))`` with ``mu4`` the fourth
    central moment; with N in the thousands ``s^2`` is close to normal.
    """
    samples = np.asarray(samples, dtype=float)
    n = samples.size
    s2 = samples.var(ddof=1)
    sd = math.sqrt(fourth_moment / n - variance**2 * (n - 3) / (n * (n - 1)))
    assert abs(s2 - variance) <= Z * sd, f"{what}: observed {s2:.6g}, expected {variance:.6g} +- {Z * sd:.3g}"


def binomial_moments(n: int, q):
    """Variance and fourth central moment of Binomial(n, q)."""
    v = n * q * (1 - q)
    return v, v * (1 + 3 * (n - 2) * q * (1 - q))


def poisson_moments(lam):
    """Variance and fourth central moment of Poisson(lam)."""
    return lam, lam + 3 * lam**2


def assert_poisson_given(entries: np.ndarray, lam: np.ndarray, *, what: str) -> None:
    """``entries[d] ~ Poisson(lam[d])`` independently over draws ``d`` (one month).

    Then ``sum(entries - lam)`` has mean 0 and variance ``sum(lam)``.
    """
    lam = np.asarray(lam, dtype=float)
    if lam.sum() == 0:
        assert (entries == 0).all(), what
        return
    z = (entries - lam).sum() / math.sqrt(lam.sum())
    assert abs(z) <= Z, f"{what}: z = {z:.2f}"


# -- 1. constant churn -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("age", [1, 12])
def test_constant_churn_monthly_contracts(make_scenario, age):
    n, c, months = 1000, 0.05, 24
    ds = run(make_scenario(horizon_months=months, retention={"churn": c, "contract_months": 1},
                           initial_book=book(n, age=age)))
    active = total(ds, "active_customers")
    churned = total(ds, "churned_customers")
    # at the end of month t the book (age + t months old, age >= 1) has renewed at ages age .. age + t
    renewals = np.arange(months) + 1
    q = (1 - c) ** renewals
    # each customer survives each renewal independently: the survivors are Binomial(n, q)
    var, mu4 = binomial_moments(n, q)
    assert_mean(active, n * q, np.sqrt(var), what="active customers")
    # a customer is lost at its r-th renewal with probability (1-c)^(r-1) c: Binomial again
    p_lost = (1 - c) ** (renewals - 1.0) * c
    assert_mean(churned, n * p_lost, np.sqrt(n * p_lost * (1 - p_lost)), what="churned customers")
    month = 5
    assert_variance(active[:, month], var[month], mu4[month], what=f"variance of active customers in month {month}")
    assert (total(ds, "onboarding_churned") == 0).all()
    assert (total(ds, "new_customers") == 0).all()


def test_constant_churn_annual_contracts(make_scenario):
    n, c, months, age = 1000, 0.2, 30, 14
    ds = run(make_scenario(horizon_months=months, retention={"churn": c, "contract_months": 12},
                           initial_book=book(n, age=age)))
    active = total(ds, "active_customers")
    churned = total(ds, "churned_customers")
    t = np.arange(months)
    renewal = (age + t) % 12 == 0
    assert list(t[renewal]) == [10, 22]
    # between renewals nobody leaves, in every draw
    assert (active[:, :10] == n).all()
    previous = np.concatenate([np.full((active.shape[0], 1), n), active[:, :-1]], axis=1)
    assert (active[:, ~renewal] == previous[:, ~renewal]).all()
    assert (churned[:, ~renewal] == 0).all()
    assert (churned[:, renewal] > 0).all()
    q = (1 - c) ** np.cumsum(renewal)
    var, mu4 = binomial_moments(n, q)
    assert_mean(active, n * q, np.sqrt(var), what="active customers")
    assert_variance(active[:, 22], var[22], mu4[22], what="variance of active customers after two renewals")


@pytest.mark.parametrize("onboarding_months", [0, 1, 3])
def test_onboarding_failures_once_at_the_end_of_onboarding(make_scenario, onboarding_months):
    n, success, months = 1000, 0.85, 8
    ds = run(make_scenario(horizon_months=months, onboarding={"success": success, "months": onboarding_months},
                           initial_book=book(n, age=1)))
    failed = total(ds, "onboarding_churned")
    # the book is t + 1 months old in month t; failures happen at age max(months, 1) only; there is no churn
    at = max(onboarding_months, 1) - 1
    others = np.arange(months) != at
    assert (failed[:, others] == 0).all()
    assert (total(ds, "churned_customers") == failed).all()
    var, mu4 = binomial_moments(n, 1 - success)
    assert_mean(failed[:, at], n * (1 - success), math.sqrt(var), what="onboarding failures")
    assert_variance(failed[:, at], var, mu4, what="variance of onboarding failures")
    active = total(ds, "active_customers")
    assert (active[:, :at] == n).all() and (active[:, at:] == (n - failed[:, at])[:, None]).all()


# -- 2. shifted beta geometric ---------------------------------------------------------------------------------------


def test_sbg_survival_curve(make_scenario):
    n, alpha, beta, renewals = 1000, 1.2, 3.5, 24
    # customers won in the month before the start: 1 month old in month 0, so month t holds renewal t + 1
    ds = run(make_scenario(horizon_months=renewals,
                           retention={"model": "sbg", "alpha": alpha, "beta": beta, "contract_months": 1},
                           initial_book=book(n, age=1)))
    # survivors after renewal k, k = 0 (the start) .. renewals; month t shows k = t + 1
    active = np.concatenate([np.full((DRAWS, 1), n), total(ds, "active_customers")], axis=1)
    k = np.arange(renewals + 1)
    survival = np.exp(betaln(alpha, beta + k) - betaln(alpha, beta))
    # Survivors form a Markov chain: X_k ~ Binomial(X_{k-1}, r_k) with r_k = S(k) / S(k-1), so
    # Var X_k = r_k (1 - r_k) E[X_{k-1}] + r_k^2 Var X_{k-1}. Since the r_k are fixed numbers (alpha and beta
    # are constants here), this chain of binomial thinnings is itself Binomial(n, S(k)); the recursion and
    # the binomial formula agree, which the assertion below confirms before both are used.
    r = survival[1:] / survival[:-1]
    var = np.zeros(renewals + 1)
    for j in range(1, renewals + 1):
        var[j] = r[j - 1] * (1 - r[j - 1]) * n * survival[j - 1] + r[j - 1] ** 2 * var[j - 1]
    binomial_var, mu4 = binomial_moments(n, survival)
    np.testing.assert_allclose(var, binomial_var, rtol=1e-9, atol=1e-9)
    assert_mean(active, n * survival, np.sqrt(var), what="sBG survivors")
    assert_variance(active[:, 12], var[12], mu4[12], what="variance of sBG survivors at renewal 12")
    # the retention of survivors improves with age (the signature of sBG)
    assert np.all(np.diff(r) > 0)


# -- 3. funnel stages ------------------------------------------------------------------------------------------------


def expected_funnel(volume: float, stages: list[tuple[float, float]], months: int):
    """Exact means for a constant Poisson inflow ``volume`` into the first of ``stages`` (conversion, months).

    A member entering a stage in month j leaves it in month t >= j with probability h (1 - h)^(t - j) and is
    still in it at the end of month t with probability (1 - h)^(t - j + 1), h = 1 / (1 + months); a leaver
    enters the next stage in the same month with probability ``conversion``. Every count is a thinning of
    the Poisson arrivals, hence Poisson, and counts of disjoint outcomes are independent.

    Returns the means of entries ``[month, stage]`` (the last column: new customers) and of members open at
    month end ``[month, stage]`` (all stages but the last).
    """
    d = np.arange(months)
    inflow = np.full(months, float(volume))
    entries = np.zeros((months, len(stages) + 1))
    still_open = np.zeros((months, len(stages)))
    for k, (conversion, mean_months) in enumerate(stages):
        h = 1.0 / (1.0 + mean_months)
        entries[:, k] = inflow
        still_open[:, k] = np.convolve(inflow, (1 - h) ** (d + 1))[:months]
        inflow = conversion * np.convolve(inflow, h * (1 - h) ** d)[:months]
    entries[:, -1] = inflow
    return entries, still_open


@pytest.mark.parametrize("stages", [[(0.4, 2.0)], [(0.4, 0.0)], [(0.5, 0.5), (0.3, 1.5)]],
                         ids=["one-stage", "same-month", "two-stages"])
def test_funnel_delay_and_conversion(make_scenario, make_funnel, stages):
    volume, months = 60, 18
    ds = run(make_scenario(horizon_months=months, funnel=make_funnel(*stages),
                           channels=[{"name": "inbound", "volume": volume}]))
    mean_entries, mean_open = expected_funnel(volume, stages, months)
    if len(stages) == 1:
        # the closed form: expected cumulative wins p V sum_{j<=t} (1 - (1-h)^(t-j+1))
        p, h = stages[0][0], 1 / (1 + stages[0][1])
        closed = [p * volume * sum(1 - (1 - h) ** (t - j + 1) for j in range(t + 1)) for t in range(months)]
        np.testing.assert_allclose(np.cumsum(mean_entries[:, -1]), closed, rtol=1e-12)
    entries = total(ds, "stage_entries")
    new = total(ds, "new_customers")
    assert (new == entries[..., -1]).all()
    assert (total(ds, "leads") == entries[..., 0]).all()
    assert_mean(entries, mean_entries, np.sqrt(mean_entries), what="stage entries")
    assert_mean(new, mean_entries[:, -1], np.sqrt(mean_entries[:, -1]), what="new customers")
    cumulative = np.cumsum(mean_entries[:, -1])
    assert_mean(np.cumsum(new, axis=1), cumulative, np.sqrt(cumulative), what="cumulative new customers")
    assert_mean(total(ds, "open_in_stage")[..., :-1], mean_open, np.sqrt(mean_open), what="open in stage")
    assert (total(ds, "open_in_stage")[..., -1] == 0).all()
    var, mu4 = poisson_moments(mean_entries[-1, -1])
    assert_variance(new[:, -1], var, mu4, what="variance of new customers in the last month")


def test_pipeline_open_at_start_drains(make_scenario):
    start, p, mean_months, months = 500, 0.4, 2.0, 12
    ds = run(make_scenario(
        horizon_months=months,
        funnel={"stages": [{"name": "lead", "conversion": p, "months": mean_months}, {"name": "won"}],
                "open_at_start": {"lead": start}},
        initial_book=book(10, age=12),  # a scenario needs a book, a channel or a loop
    ))
    h = 1 / (1 + mean_months)
    t = np.arange(months)
    # each open member stays through month t with probability (1 - h)^(t + 1), or is won in month t with
    # probability p h (1 - h)^t: Binomial counts
    q_open = (1 - h) ** (t + 1)
    q_won = p * h * (1 - h) ** t
    still_open = total(ds, "open_in_stage")[..., 0]
    new = total(ds, "new_customers")
    assert_mean(still_open, start * q_open, np.sqrt(start * q_open * (1 - q_open)), what="open members")
    assert_mean(new, start * q_won, np.sqrt(start * q_won * (1 - q_won)), what="new customers")
    assert (total(ds, "leads") == 0).all() and (total(ds, "stage_entries")[..., 0] == 0).all()


def test_an_uncertain_open_pipeline_is_drawn_per_draw_and_rounded(make_scenario):
    # a pipeline known to within a range: each draw starts with its own whole number of open members
    months = 3
    loaded = make_scenario(
        horizon_months=months,
        funnel={"stages": [{"name": "lead", "conversion": 0.5, "months": 0}, {"name": "won"}],
                "open_at_start": {"lead": {"dist": "uniform", "low": 100, "high": 300}}},
        initial_book=book(10, age=12),
    )
    ds = run(loaded, draws=400)
    # months: 0 empties the stage in month 0: every open member leaves then, half of them won
    drawn = ds["param_funnel_open_at_start_lead"].values
    assert (drawn >= 100).all() and (drawn <= 300).all() and np.unique(drawn).size > 300
    left = total(ds, "stage_converted")[:, 0, 0] + total(ds, "stage_lost")[:, 0, 0]
    np.testing.assert_array_equal(left, np.rint(drawn))
    with pytest.raises(InputError, match="whole number of members"):
        make_scenario(horizon_months=months, initial_book=book(10, age=12),
                      funnel={"stages": [{"name": "lead", "conversion": 0.5}, {"name": "won"}],
                              "open_at_start": {"lead": 12.5}})


def test_seasonality_and_acv_cv_drawn_from_a_posterior_are_each_draws_own(make_scenario, tmp_path):
    """A calibrated channel's twelve seasonal factors (and a segment's acv_cv) are inputs drawn from the posterior
    with the rest of the sample: each draw simulates its entries with its own factors."""
    xr = pytest.importorskip("xarray")
    rng = np.random.default_rng(5)
    chains, n = 2, 60
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    factors = np.exp(rng.normal(0, 0.3, (chains, n, 12)))
    posterior = xr.Dataset({
        "volume": (("chain", "draw"), rng.uniform(20, 60, (chains, n))),
        "seasonality": (("chain", "draw", "month_of_year"), factors),
        "acv_cv": (("chain", "draw"), rng.uniform(0.1, 0.9, (chains, n))),
    }, coords={"month_of_year": months})
    posterior.to_netcdf(tmp_path / "posterior.nc", group="posterior", engine="h5netcdf")

    def ref(var: str, **coords: str) -> dict:
        return {"dist": "posterior", "file": "posterior.nc", "var": var, **({"coords": coords} if coords else {})}

    base = make_scenario(channels=[{"name": "inbound", "volume": 1}]).data
    data = {**base, "horizon_months": 15, "pricing": {"acv": 1200, "acv_cv": ref("acv_cv")},
            "channels": [{"name": "inbound", "volume": ref("volume"),
                          "seasonality": [ref("seasonality", month_of_year=m) for m in months]}]}
    loaded = scenario_from_dict(data, base_dir=tmp_path)
    ds = run(loaded, draws=2000)
    volume = ds["param_channels_inbound_volume"].values
    season = np.stack([ds[f"param_channels_inbound_seasonality_{m}"].values for m in range(12)], axis=1)
    sample = {round(v, 12): i for i, v in enumerate(posterior["volume"].values.ravel())}
    index = np.array([sample[round(v, 12)] for v in volume])  # each draw's posterior sample
    np.testing.assert_array_equal(season, factors.reshape(-1, 12)[index])
    np.testing.assert_array_equal(ds["param_pricing_acv_cv"].values, posterior["acv_cv"].values.ravel()[index])
    assert len(np.unique(index)) > 100  # the draws visit the posterior's samples
    # entries are Poisson around the draw's own volume x its own factor of the calendar month (the run starts
    # in January): standardised, their mean over draws is 0 and their variance 1
    mu = volume[:, None] * season[:, np.arange(15) % 12]
    leads = total(ds, "leads")
    assert_mean((leads - mu) / np.sqrt(mu), np.zeros(15), np.ones(15), what="standardised entries")
    params = compile_scenario(loaded).draw_parameters(SEED, 0, 5)
    np.testing.assert_array_equal(params.seg_par[:, 0, 1], ds["param_pricing_acv_cv"].values[:5])  # ACV_CV column


def test_channels_split_across_segments_with_growth_and_seasonality(make_scenario):
    months, start_month = 14, 3  # the simulation starts in March
    season = [0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6]
    shares = {"a": 2.0, "b": 5.0, "c": 3.0}
    mix = {"a": 1.0, "c": 3.0}
    ds = run(make_scenario(
        start=f"2027-{start_month:02d}",
        horizon_months=months,
        segments=[{"name": name, "share": share} for name, share in shares.items()],
        channels=[{"name": "inbound", "volume": 40, "growth": 0.05, "seasonality": season},
                  {"name": "partners", "volume": 20, "segment_mix": mix}],
    ))
    t = np.arange(months)
    inbound = 40 * 1.05**t * np.array(season)[(start_month - 1 + t) % 12]
    default_share = np.array(list(shares.values())) / sum(shares.values())
    mix_share = np.array([mix.get(name, 0.0) for name in shares]) / sum(mix.values())
    # each arrival picks its segment independently: Poisson thinning, so every segment's entries are Poisson
    mean = inbound[:, None] * default_share[None, :] + 20 * mix_share[None, :]
    leads = ds["leads"].values  # [draw, month, segment]
    assert_mean(leads, mean, np.sqrt(mean), what="entries per segment")
    assert (leads == ds["stage_entries"].values[..., 0]).all()


# -- 4. growth loops -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [1.0, 0.3])
def test_advocate_loop(make_scenario, rate):
    customers, coefficient, months = 400, 0.25, 12
    ds = run(make_scenario(
        horizon_months=months,
        advocacy={"rate": rate, "adoption_months": 0},
        loops=[{"name": "referrals", "source": "advocates", "target": "lead", "coefficient": coefficient, "lag": 1}],
        initial_book=book(customers, age=12),
    ))
    entries = ds["loop_entries"].sel(loop="referrals").values
    advocates = total(ds, "advocates")
    # no churn and adoption from age 0: each month the advocates are Binomial(N, rate), and month t's loop
    # draws Poisson(k A) from the advocates at the end of month t - 1 (the book's, drawn before month 0)
    mean = coefficient * rate * customers
    var = mean + coefficient**2 * customers * rate * (1 - rate)
    assert_mean(entries, mean, math.sqrt(var), what="loop entries")
    a_var, _ = binomial_moments(customers, rate)
    assert_mean(advocates, rate * customers, math.sqrt(a_var), what="advocates")
    for t in range(1, months):
        assert_poisson_given(entries[:, t], coefficient * advocates[:, t - 1], what=f"loop entries in month {t}")
    # the loop feeds the first stage, which converts nobody
    assert (total(ds, "leads") == entries).all()
    assert (total(ds, "new_customers") == 0).all()
    if rate == 1.0:
        assert (advocates == customers).all()
        var, mu4 = poisson_moments(mean)
        assert_variance(entries[:, 4], var, mu4, what="variance of loop entries")


def test_advocates_only_from_adoption_age(make_scenario):
    customers, adoption, coefficient, months = 300, 3, 0.1, 8
    ds = run(make_scenario(
        horizon_months=months,
        advocacy={"rate": 1, "adoption_months": adoption},
        loops=[{"name": "referrals", "source": "advocates", "target": "lead", "coefficient": coefficient}],
        initial_book=book(customers, age=1),
    ), draws=200)
    advocates = total(ds, "advocates")
    entries = ds["loop_entries"].sel(loop="referrals").values
    # the book is t + 1 months old in month t: adopted (and, at rate 1, all advocates) from age `adoption` on
    adopted = adoption - 1
    assert (advocates == np.where(np.arange(months) >= adopted, customers, 0)).all()
    # before the first month the book (age 1) has no advocates; with lag 1 the loop starts a month after adoption
    assert (entries[:, : adopted + 1] == 0).all()
    assert_mean(entries[:, adopted + 1:], coefficient * customers, math.sqrt(coefficient * customers),
                what="loop entries after adoption")


def test_active_customer_loop_with_lag(make_scenario):
    customers, churn, coefficient, lag, months = 1000, 0.1, 0.2, 3, 15
    ds = run(make_scenario(
        horizon_months=months,
        retention={"churn": churn},
        loops=[{"name": "word_of_mouth", "source": "active_customers", "target": "lead",
                "coefficient": coefficient, "lag": lag}],
        initial_book=book(customers, age=12),
    ))
    entries = ds["loop_entries"].sel(loop="word_of_mouth").values
    active = total(ds, "active_customers")
    # month t reads the end of month t - lag: nothing before month lag - 1, the initial book in month lag - 1
    assert (entries[:, : lag - 1] == 0).all()
    t = np.arange(lag - 1, months)
    # the book renews every month (churn c): active at the end of month t - lag ~ Binomial(N, (1-c)^(t-lag+1))
    q = (1 - churn) ** (t - lag + 1)
    mean = coefficient * customers * q
    var = mean + coefficient**2 * customers * q * (1 - q)
    assert_mean(entries[:, lag - 1:], mean, np.sqrt(var), what="loop entries")
    for month in range(lag, months):
        assert_poisson_given(entries[:, month], coefficient * active[:, month - lag],
                             what=f"loop entries in month {month}")


@pytest.mark.parametrize(("source", "coefficient"), [("active_customers", 0.04), ("new_customers", 0.5),
                                                     ("mrr", 0.0004), ("advocates", 0.15)])
def test_loop_source_and_lag(make_scenario, source, coefficient):
    """Month t's loop entries are Poisson(coefficient x source at the end of month t - lag), per draw."""
    lag, months, customers, mrr_each = 2, 14, 500, 100.0
    ds = run(make_scenario(
        horizon_months=months,
        channels=[{"name": "inbound", "volume": 40}],
        funnel={"stages": [{"name": "lead", "conversion": 0.5, "months": 1}, {"name": "won"}]},
        retention={"churn": 0.05},
        advocacy={"rate": 0.3, "adoption_months": 0},
        loops=[{"name": "loop", "source": source, "target": "lead", "coefficient": coefficient, "lag": lag}],
        initial_book=book(customers, age=12, mrr_each=mrr_each),
    ), draws=800)
    entries = ds["loop_entries"].sel(loop="loop").values
    # mrr counts in currency units of MRR (not cents, not ARR)
    series = total(ds, source)
    before = {"active_customers": customers, "new_customers": 0, "mrr": customers * mrr_each}
    assert (entries[:, : lag - 1] == 0).all()
    if source in before:
        assert_poisson_given(entries[:, lag - 1], np.full(entries.shape[0], coefficient * before[source]),
                             what=f"loop entries in month {lag - 1} (from the state before the first month)")
    for month in range(lag, months):
        assert_poisson_given(entries[:, month], coefficient * series[:, month - lag],
                             what=f"loop entries in month {month}")
    assert (total(ds, "leads") == total(ds, "stage_entries")[..., 0]).all()
    assert (total(ds, "leads") >= entries).all()


# -- 5. sales capacity -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("hires", [0.0, 0.5])
def test_sales_capacity_caps_wins(make_scenario, hires):
    reps, per_rep, months = 3, 2.5, 12
    open_at_start = {"smb": 30, "mid": 20}
    ds = run(make_scenario(
        horizon_months=months,
        segments=[{"name": "smb", "share": 0.6}, {"name": "mid", "share": 0.4}],
        channels=[{"name": "inbound", "volume": 100}],
        funnel={"stages": [{"name": "lead", "conversion": 0.8, "months": 0.5}, {"name": "won"}],
                "sales_capacity": {"reps": reps, "hires_per_month": hires, "deals_per_rep_per_month": per_rep},
                "open_at_start": {"lead": open_at_start}},
    ), draws=300)
    capacity = np.array([math.floor((reps + hires * t) * per_rep) for t in range(months)])
    new = ds["new_customers"].values  # [draw, month, segment]
    assert (new.sum(axis=2) <= capacity).all()
    # about 0.8 x 2/3 x 100 deals are won each month, far above capacity: every month closes its capacity
    assert (new.sum(axis=2) == capacity).all()
    # won deals beyond capacity wait (they are not lost) and stay open in the stage, per segment:
    # open[t] = open[t-1] + entries - lost - closed, starting from the pipeline open at the start
    entries = ds["stage_entries"].values[..., 0]
    lost = ds["stage_lost"].values[..., 0]
    won = ds["stage_converted"].values[..., 0]
    still_open = ds["open_in_stage"].values[..., 0]
    start = np.array([open_at_start[seg] for seg in ds["segment"].values])
    previous = np.concatenate([np.broadcast_to(start, still_open[:, :1].shape), still_open[:, :-1]], axis=1)
    assert (still_open == previous + entries - lost - new).all()
    waiting = np.cumsum(won - new, axis=1)
    assert (waiting >= 0).all() and (waiting[:, -1].sum(axis=1) > 0).all()
    assert (still_open >= waiting).all()


# -- 6. conservation -------------------------------------------------------------------------------------------------


def random_scenario(seed: int) -> dict:
    """A valid scenario with most features switched on, its structure chosen by ``seed``."""
    rng = np.random.default_rng(seed)
    segments = ["smb", "mid", "ent"][: int(rng.integers(1, 4))]
    n_stages = int(rng.integers(2, 5))
    stage_names = [f"s{k}" for k in range(n_stages)] + ["won"]
    stages = [{"name": name, "conversion": [0.2, 0.6], "months": float(rng.choice([0, 0.5, 1, 2.5]))}
              for name in stage_names[:-1]]
    stages[-1]["by_segment"] = {segments[-1]: {"conversion": [0.1, 0.3], "months": 2}}
    stages.append({"name": "won"})

    def pick_stage() -> str:
        return str(rng.choice(stage_names[:-1]))

    retention = {}
    for seg in segments:
        if rng.random() < 0.5:
            retention[seg] = {"model": "sbg", "alpha": [0.8, 1.5], "beta": [3, 8],
                              "contract_months": int(rng.choice([1, 12]))}
        else:
            retention[seg] = {"churn": [0.02, 0.2], "contract_months": int(rng.choice([1, 3, 12]))}
    data = {
        "name": f"random {seed}",
        "start": f"2027-{int(rng.integers(1, 13)):02d}",
        "horizon_months": 30,
        "segments": [{"name": seg, "share": float(rng.uniform(0.2, 1))} for seg in segments],
        "channels": [
            {"name": "inbound", "volume": [50, 150], "growth": {"dist": "normal", "mean": 0.01, "sd": 0.01},
             "seasonality": [float(x) for x in rng.uniform(0.5, 1.5, 12)], "dispersion": 0.1},
            {"name": "outbound", "volume": 30, "stage": pick_stage(), "segment_mix": {segments[0]: 1.0}},
        ],
        "funnel": {"stages": stages},
        "pricing": {seg: {"acv": [5000, 20000], "acv_cv": 0.5} for seg in segments},
        "onboarding": {seg: {"success": [0.8, 0.95], "months": int(rng.integers(0, 4))} for seg in segments},
        "retention": retention,
        "expansion": {"rate": [0.01, 0.05], "size": 0.2, "contraction_rate": 0.02, "contraction_size": 0.3,
                      "price_uplift": [0.02, 0.08]},
        "advocacy": {"rate": 0.2, "adoption_months": 2},
        "loops": [
            {"name": "referrals", "source": "advocates", "target": pick_stage(), "coefficient": 0.05},
            {"name": "content", "source": "mrr", "target": stage_names[0], "coefficient": 1e-4, "lag": 2},
            {"name": "invites", "source": "new_customers", "target": pick_stage(), "coefficient": 0.3,
             "segment": segments[-1]},
            {"name": "community", "source": "active_customers", "target": pick_stage(), "coefficient": 0.01, "lag": 4,
             "source_segment": segments[0]},
        ],
        "initial_book": [{"segment": seg, "customers": 200, "arr": 1_200_000, "age_months": int(rng.integers(1, 30)),
                          "spread_months": int(rng.integers(1, 13))} for seg in segments],
    }
    data["funnel"]["open_at_start"] = {stage_names[0]: 100, stage_names[-2]: {seg: 5 for seg in segments}}
    if rng.random() < 0.7:
        data["funnel"]["sales_capacity"] = {"reps": 2, "hires_per_month": 0.3, "deals_per_rep_per_month": 3,
                                            "stage": pick_stage()}
    return data


def assert_funnel_conserved(ds, loaded: LoadedScenario) -> None:
    """Members of every stage are conserved, in every draw, month and segment.

    A stage keeps ``open[t] = open[t-1] + entries - converted - lost``, from the pipeline open at the start.
    The stage with a sales capacity also keeps the won deals waiting for capacity: the month's closed deals
    (those that enter the next stage) are ``converted - (waiting[t] - waiting[t-1])``, never more than the
    capacity, and all of the capacity is used while deals wait.
    """
    model = loaded.model
    stages = model.stage_names
    capacity_settings = model.funnel.sales_capacity
    capacity_stage = -1
    if capacity_settings is not None:
        capacity_stage = stages.index(capacity_settings.stage or stages[-2])
        per_rep = capacity_settings.deals_per_rep_per_month
        assert per_rep.is_constant
        capacity = np.floor(ds["sales_reps"].values * per_rep.mean() + 1e-9)  # [draw, month]
    start = compile_scenario(loaded).initial_stock  # [segment, stage]
    entries, still_open = ds["stage_entries"].values, ds["open_in_stage"].values
    converted, lost = ds["stage_converted"].values, ds["stage_lost"].values
    previous = np.concatenate([np.broadcast_to(start, still_open[:, :1].shape), still_open[:, :-1]], axis=1)
    carried = np.zeros_like(entries)  # entries of each stage that come from the stage before it
    for k in range(len(stages) - 1):
        change = still_open[..., k] - previous[..., k] - entries[..., k] + converted[..., k] + lost[..., k]
        if k == capacity_stage:
            waiting = np.cumsum(change, axis=1)
            closed = converted[..., k] - change
            assert (waiting >= 0).all() and (closed >= 0).all()
            assert (closed.sum(axis=2) <= capacity).all()
            still_waiting = waiting.sum(axis=2) > 0
            assert (closed.sum(axis=2)[still_waiting] == capacity[still_waiting]).all()
            carried[..., k + 1] = closed
        else:
            assert (change == 0).all(), f"stage {stages[k]}"
            carried[..., k + 1] = converted[..., k]
    # what remains of the entries came from channels and loops: the leads
    assert (entries >= carried).all()
    assert (ds["leads"].values == (entries - carried).sum(axis=3)).all()
    assert (ds["leads"].values.sum(axis=2) >= ds["loop_entries"].values.sum(axis=2)).all()


def assert_conserved(ds) -> None:
    residual = np.abs(bridge_residual(ds).values)
    assert (residual <= 1e-9 * np.maximum(1.0, np.abs(ds["arr"].values))).all(), residual.max()
    check_invariants(ds)
    for name in ("new_customers", "churned_customers", "onboarding_churned", "active_customers", "advocates",
                 "stage_entries", "open_in_stage", "stage_converted", "stage_lost", "loop_entries", "leads"):
        assert (ds[name].values >= 0).all(), name
    for name in ("new_arr", "expansion_arr", "contraction_arr", "churned_arr", "arr"):
        assert (ds[name].values >= 0).all(), name
    active = ds["active_customers"].values
    previous = np.concatenate([np.broadcast_to(ds["initial_customers"].values, active[:, :1].shape), active[:, :-1]],
                              axis=1)
    assert (active == previous + ds["new_customers"].values - ds["churned_customers"].values).all()
    assert (ds["onboarding_churned"].values <= ds["churned_customers"].values).all()
    assert (ds["advocates"].values <= active).all()
    assert (ds["new_customers"].values == ds["stage_entries"].values[..., -1]).all()
    grr = ds["grr_12m"].values
    assert ((grr[~np.isnan(grr)] >= 0) & (grr[~np.isnan(grr)] <= 1)).all()


def test_conservation_in_example_scenario(example_scenario):
    ds = run(example_scenario, draws=200)
    assert_conserved(ds)
    assert_funnel_conserved(ds, example_scenario)
    assert (ds["expansion_arr"].values > 0).any() and (ds["contraction_arr"].values > 0).any()


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_conservation_in_random_scenarios(seed):
    scenario = scenario_from_dict(random_scenario(seed))
    ds = run(scenario, draws=100, seed=seed)
    assert_conserved(ds)
    assert_funnel_conserved(ds, scenario)
    for name in ("expansion_arr", "contraction_arr", "churned_arr", "new_arr", "onboarding_churned"):
        assert (ds[name].values > 0).any(), name


# -- 7. NRR and GRR --------------------------------------------------------------------------------------------------


def nrr_rounding(ds, cents_per_month: float) -> np.ndarray:
    """A bound on the error of NRR (months 11 on) from rounding MRR movements to whole cents.

    Each month of the 12-month window rounds at most ``cents_per_month``; relative to the window's base MRR
    (the MRR 12 months earlier), taken at its smallest over the draws.
    """
    mrr = ds["mrr"].sum("segment").values
    initial = float(ds["initial_arr"].sum()) / 12
    before = np.concatenate([np.full((mrr.shape[0], 1), initial), mrr], axis=1)  # month t's base: before[t - 11]
    return 12 * cents_per_month / 100 / before[:, : mrr.shape[1] - 11].min(axis=0)


def test_nrr_with_constant_churn(make_scenario):
    n, c, months = 1000, 0.03, 24
    ds = run(make_scenario(horizon_months=months, retention={"churn": c}, initial_book=book(n, age=12)))
    nrr = ds["nrr_12m"].values
    grr = ds["grr_12m"].values
    assert np.isnan(nrr[:, :11]).all() and np.isnan(grr[:, :11]).all()
    assert not np.isnan(nrr[:, 11:]).any()
    # month 11: twelve renewals of the book since the start; equal MRR per customer, so NRR = survivors / n,
    # a Binomial(n, q) / n. The MRR lost in a month is rounded to whole cents: at most 0.5 cent.
    q = (1 - c) ** 12
    rounding = nrr_rounding(ds, 0.5)
    assert_mean(nrr[:, 11], q, math.sqrt(q * (1 - q) / n), slack=rounding[0], what="NRR at month 11")
    # later months: NRR = X_t / X_{t-12}, whose mean is again q (each survivor renews 12 times); its spread
    # depends on the random X_{t-12}: sd from the sample
    assert_mean(nrr[:, 12:], q, nrr[:, 12:].std(axis=0, ddof=1), slack=rounding[1:], what="NRR after month 11")
    # no expansion: GRR and NRR are the same ratio, and never above 1
    np.testing.assert_allclose(grr[:, 11:], nrr[:, 11:], rtol=1e-12, atol=0)
    assert (grr[:, 11:] <= 1).all()


def test_nrr_with_expansion(make_scenario):
    n, e, g, months = 1000, 0.1, 0.05, 14
    ds = run(make_scenario(horizon_months=months, expansion={"rate": e, "size": g}, initial_book=book(n, age=12)))
    nrr = ds["nrr_12m"].values[:, 11]
    grr = ds["grr_12m"].values[:, 11:]
    # Each month U ~ Binomial(n, e) customers upgrade and MRR grows by the factor (1 + g U / n), independently
    # from month to month: E[NRR] = (1 + e g)^12 and E[NRR^2] = ((1 + e g)^2 + g^2 e (1 - e) / n)^12.
    mean = (1 + e * g) ** 12
    second = ((1 + e * g) ** 2 + g**2 * e * (1 - e) / n) ** 12
    # each month rounds the upgraded MRR twice to whole cents (at most 1 cent), an error that later upgrades
    # can grow by at most (1 + g)^12
    rounding = nrr_rounding(ds, 1.0)[0] * (1 + g) ** 12
    assert_mean(nrr, mean, math.sqrt(second - mean**2), slack=rounding, what="NRR with expansion")
    assert (nrr >= 1).all() and nrr.mean() > 1
    assert (grr == 1).all()
    assert (ds["churned_customers"].values == 0).all() and (ds["contraction_arr"].values == 0).all()


def test_grr_equals_nrr_without_expansion(make_scenario):
    n, c, r, size, months = 1000, 0.02, 0.05, 0.3, 16
    ds = run(make_scenario(horizon_months=months, retention={"churn": c},
                           expansion={"contraction_rate": r, "contraction_size": size}, initial_book=book(n, age=12)))
    nrr = ds["nrr_12m"].values[:, 11:]
    grr = ds["grr_12m"].values[:, 11:]
    # churn and downgrades are both losses: GRR is NRR, and below 1
    np.testing.assert_allclose(grr, nrr, rtol=1e-12, atol=0)
    assert (grr < 1).all()
    # each month the MRR is multiplied by X_t / X_{t-1} (mean 1 - c given the past) and then by
    # 1 - size D_t / X_t with D_t ~ Binomial(X_t, r) (mean 1 - r size): E[NRR] = ((1 - c)(1 - r size))^12.
    # The spread of a product of dependent ratios has no simple closed form: sd from the sample.
    mean = ((1 - c) * (1 - r * size)) ** 12
    # churned MRR rounds at most 0.5 cent a month, a downgrade 0.5 + 0.5 x size
    rounding = nrr_rounding(ds, 1.0 + 0.5 * size)
    assert_mean(nrr, mean, nrr.std(axis=0, ddof=1), slack=rounding, what="NRR with churn and contraction")
