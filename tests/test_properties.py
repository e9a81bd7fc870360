"""Property-based tests over generated scenarios.

Valid scenarios (1-3 segments, 2-5 stages, channels, loops with small coefficients, an initial book,
expansion, constant or sBG retention, costs or not): the run never crashes, the ARR bridge closes, stocks are
never negative, money is finite, and the same seed gives the same results on any number of threads.

Invalid scenarios (a valid one with one defect: a wrong type, a value out of range, an unknown key, a
missing field, a dangling reference): the command line always answers with exit code 2 and one message.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import revsim
from revsim.cli.main import cli
from revsim.engine.run import RunawayWarning
from revsim.results.invariants import bridge_residual
from revsim.scenario.load import scenario_from_dict

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ------------------------------------------------------------------------------------------- strategies


def _probability(draw: st.DrawFn, low: float = 0.0, high: float = 1.0) -> Any:
    """A probability as a constant, a 90% interval or a beta distribution, within [low, high]."""
    kind = draw(st.sampled_from(["constant", "interval", "beta"]))
    if kind == "constant":
        return round(draw(st.floats(low, high)), 4)
    a = draw(st.floats(max(low, 0.01), min(high, 0.98) - 0.005))
    b = draw(st.floats(a + 0.005, min(high, 0.99)))
    if kind == "interval":
        return [round(a, 4), round(b, 4)] if round(a, 4) < round(b, 4) else round(a, 4)
    mean = (a + b) / 2
    return {"dist": "beta", "mean": round(mean, 4), "sd": round(min((b - a) / 4 + 1e-4, 0.9 * (mean * (1 - mean)) ** 0.5), 5)}


def _positive(draw: st.DrawFn, low: float, high: float) -> Any:
    """A positive quantity as a constant, a 90% interval or a gamma distribution."""
    kind = draw(st.sampled_from(["constant", "interval", "gamma"]))
    a = draw(st.floats(low, high))
    if kind == "constant":
        return round(a, 3)
    b = a * draw(st.floats(1.05, 3.0))
    if kind == "interval":
        return [round(a, 3), round(b, 3)]
    return {"dist": "gamma", "mean": round((a + b) / 2, 3), "sd": round((b - a) / 4 + 1e-3, 3)}


def _per_segment(draw: st.DrawFn, segments: list[str], make: Any) -> dict[str, Any]:
    """A per-segment block: the settings for every segment, or one entry per segment (with a default)."""
    if len(segments) == 1 or draw(st.booleans()):
        return make()
    listed = draw(st.lists(st.sampled_from(segments), unique=True, min_size=1, max_size=len(segments)))
    block = {segment: make() for segment in listed}
    if len(listed) < len(segments):
        block["default"] = make()
    return block


@st.composite
def valid_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    segments = [f"seg{i}" for i in range(draw(st.integers(1, 3)))]
    stages = [f"step{i}" for i in range(draw(st.integers(2, 5)))]
    data: dict[str, Any] = {
        "name": "Generated",
        "start": f"{draw(st.integers(2020, 2035))}-{draw(st.integers(1, 12)):02d}",
        "horizon_months": draw(st.integers(1, 24)),
        "segments": [{"name": s, "share": draw(st.floats(0.1, 1.0))} for s in segments],
    }
    channels = []
    for i in range(draw(st.integers(0, 2))):
        channel: dict[str, Any] = {"name": f"ch{i}", "volume": _positive(draw, 1.0, 300.0),
                                   "growth": round(draw(st.floats(-0.05, 0.05)), 4)}
        if draw(st.booleans()):
            channel["stage"] = draw(st.sampled_from(stages[:-1]))
        if len(segments) > 1 and draw(st.booleans()):
            channel["segment_mix"] = {s: draw(st.floats(0.1, 1.0)) for s in segments}
        if draw(st.booleans()):
            channel["dispersion"] = round(draw(st.floats(0.0, 0.5)), 3)
        if draw(st.booleans()):
            channel["seasonality"] = [round(draw(st.floats(0.5, 1.5)), 2) for _ in range(12)]
        channels.append(channel)
    data["channels"] = channels
    data["funnel"] = {"stages": [
        {"name": name, "conversion": _probability(draw), "months": round(draw(st.floats(0.0, 3.0)), 2)}
        for name in stages[:-1]] + [{"name": stages[-1]}]}
    if draw(st.booleans()):
        data["funnel"]["open_at_start"] = {draw(st.sampled_from(stages[:-1])): draw(st.integers(0, 200))}
    data["pricing"] = _per_segment(draw, segments, lambda: {"acv": _positive(draw, 500.0, 100_000.0),
                                                            "acv_cv": round(draw(st.floats(0.0, 1.0)), 3)})

    def retention() -> dict[str, Any]:
        term = draw(st.sampled_from([1, 3, 12]))
        if draw(st.booleans()):
            return {"churn": _probability(draw, 0.0, 0.3), "contract_months": term}
        return {"model": "sbg", "alpha": _positive(draw, 0.3, 5.0), "beta": _positive(draw, 0.5, 20.0),
                "contract_months": term}

    data["retention"] = _per_segment(draw, segments, retention)
    data["expansion"] = _per_segment(draw, segments, lambda: {
        "rate": _probability(draw, 0.0, 0.1), "size": round(draw(st.floats(0.0, 0.5)), 3),
        "contraction_rate": _probability(draw, 0.0, 0.05), "contraction_size": _probability(draw, 0.0, 0.5),
        "price_uplift": round(draw(st.floats(0.0, 0.1)), 3)})
    data["advocacy"] = _per_segment(draw, segments, lambda: {"rate": _probability(draw, 0.0, 0.3),
                                                             "adoption_months": draw(st.integers(0, 6))})
    loops = []
    for i in range(draw(st.integers(0, 2))):
        source = draw(st.sampled_from(["advocates", "active_customers", "new_customers", "mrr"]))
        top = 1e-5 if source == "mrr" else 0.05
        loop: dict[str, Any] = {"name": f"loop{i}", "source": source, "target": draw(st.sampled_from(stages)),
                                "coefficient": round(draw(st.floats(0.0, top)), 7), "lag": draw(st.integers(1, 3))}
        if len(segments) > 1 and draw(st.booleans()):
            loop["segment"] = draw(st.sampled_from(segments))
        loops.append(loop)
    data["loops"] = loops
    book = []
    for _ in range(draw(st.integers(0, 2))):
        customers = draw(st.integers(0, 500))
        cohort: dict[str, Any] = {"customers": customers,
                                  "arr": round(draw(st.floats(0.0, 5e6)), 2) if customers else 0,
                                  "age_months": draw(st.integers(1, 24)), "spread_months": draw(st.integers(1, 6))}
        if len(segments) > 1:
            cohort["segment"] = draw(st.sampled_from(segments))
        book.append(cohort)
    data["initial_book"] = book
    if not channels and not book:
        data["initial_book"] = [{"customers": 10, "arr": 120_000,
                                 **({"segment": segments[0]} if len(segments) > 1 else {})}]
    if draw(st.booleans()):
        data["costs"] = {"other_spend": _positive(draw, 100.0, 50_000.0),
                         "gross_margin": _probability(draw, 0.3, 0.95),
                         "channel_spend": {c["name"]: round(draw(st.floats(0.0, 20_000.0)), 2) for c in channels}}
    return data


# --------------------------------------------------------------------------------------------- valid


def _simulate(data: dict[str, Any], seed: int, threads: int):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RunawayWarning)
        return revsim.simulate(scenario_from_dict(data), draws=3, seed=seed, threads=threads)


@SETTINGS
@given(data=valid_scenarios(), seed=st.integers(0, 2**32))
def test_valid_scenarios_run_and_keep_the_model_identities(data: dict[str, Any], seed: int) -> None:
    ds = _simulate(data, seed, threads=1)
    residual = np.abs(bridge_residual(ds).values)
    assert (residual <= 1e-9 * np.maximum(1.0, np.abs(ds["arr"].values))).all()
    for name in ("active_customers", "advocates", "arr", "mrr", "open_in_stage", "stage_entries", "new_customers",
                 "churned_customers", "new_arr", "expansion_arr", "contraction_arr", "churned_arr", "leads"):
        values = ds[name].values
        assert np.isfinite(values).all(), name
        assert (values >= 0).all(), name
    for name, variable in ds.data_vars.items():
        if variable.dtype.kind == "f":
            assert not np.isinf(variable.values).any(), name
    assert ds.sizes["month"] == data["horizon_months"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=valid_scenarios(), seed=st.integers(0, 2**32))
def test_valid_scenarios_are_reproducible_by_seed(data: dict[str, Any], seed: int) -> None:
    one = _simulate(data, seed, threads=1)
    two = _simulate(data, seed, threads=2)
    for name in one.data_vars:
        np.testing.assert_array_equal(one[name].values, two[name].values, err_msg=name)


# ------------------------------------------------------------------------------------------- invalid

_WORK = Path(tempfile.mkdtemp(prefix="revsim-properties-"))


def _mutations(data: dict[str, Any]) -> list[tuple[str, Any]]:
    """Ways to break a valid scenario: (description, function applied to a copy)."""
    stages = data["funnel"]["stages"]

    def setter(path: tuple[Any, ...], value: Any):
        def apply(copy: dict[str, Any]) -> None:
            target = copy
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
        return apply

    def remover(key: str):
        return lambda copy: copy.pop(key)

    mutations = [
        ("horizon as text", setter(("horizon_months",), "twelve")),
        ("horizon of 0", setter(("horizon_months",), 0)),
        ("horizon too long", setter(("horizon_months",), 10_000)),
        ("start not a month", setter(("start",), "2027/01")),
        ("start month 13", setter(("start",), "2027-13")),
        ("stages as a mapping", setter(("funnel", "stages"), {"a": 1})),
        ("one stage only", setter(("funnel", "stages"), [{"name": "only"}])),
        ("conversion above 1", setter(("funnel", "stages", 0, "conversion"), 1.5)),
        ("conversion as text", setter(("funnel", "stages", 0, "conversion"), "high")),
        ("negative months", setter(("funnel", "stages", 0, "months"), -1)),
        ("conversion on the last stage", setter(("funnel", "stages", len(stages) - 1, "conversion"), 0.5)),
        ("beta mean above 1", setter(("funnel", "stages", 0, "conversion"), {"dist": "beta", "mean": 1.2, "sd": 0.1})),
        ("interval low above high", setter(("funnel", "stages", 0, "conversion"), [0.5, 0.2])),
        ("pert mode outside", setter(("funnel", "stages", 0, "months"),
                                     {"dist": "pert", "min": 1, "mode": 5, "max": 3})),
        ("unknown distribution", setter(("funnel", "stages", 0, "conversion"), {"dist": "betta", "mean": 0.2})),
        ("pricing as a list", setter(("pricing",), [1, 2])),
        ("pricing as a number", setter(("pricing",), 5)),
        ("unknown top-level key", setter(("zz_unknown_key",), 1)),
        ("unknown stage key", setter(("funnel", "stages", 0, "zz_unknown_key"), 1)),
        ("currency in lower case", setter(("currency",), "usd")),
        ("segments as a number", setter(("segments",), 3)),
        ("no start", remover("start")),
        ("no funnel", remover("funnel")),
        ("no pricing", remover("pricing")),
        ("no retention", remover("retention")),
        ("loop to an unknown stage", setter(("loops",), [{"name": "l", "source": "advocates", "target": "nowhere",
                                                          "coefficient": 0.1}])),
        ("loop with lag 0", setter(("loops",), [{"name": "l", "source": "advocates", "target": stages[0]["name"],
                                                 "coefficient": 0.1, "lag": 0}])),
        ("loop with an unknown source", setter(("loops",), [{"name": "l", "source": "tweets",
                                                             "target": stages[0]["name"], "coefficient": 0.1}])),
        ("negative book", setter(("initial_book",), [{"customers": -5, "arr": 1000,
                                                      "segment": data["segments"][0]["name"]}])),
        ("channel with negative volume", setter(("channels",), [{"name": "c", "volume": -10}])),
        ("channel to an unknown stage", setter(("channels",), [{"name": "c", "volume": 10, "stage": "nowhere"}])),
        ("correlation with an unknown input", setter(("correlations",), [{"between": ["a.b", "c.d"], "rank": 0.5}])),
        ("correlation above 1", setter(("correlations",), [{"between": ["a.b", "c.d"], "rank": 1.5}])),
        ("target outside the horizon", setter(("targets",), [{"metric": "arr", "value": 1, "at": "2099-01"}])),
    ]
    return mutations


@st.composite
def invalid_scenarios(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    import copy

    data = draw(valid_scenarios())
    description, apply = draw(st.sampled_from(_mutations(data)))
    broken = copy.deepcopy(data)
    apply(broken)
    return description, broken


@SETTINGS
@given(case=invalid_scenarios())
def test_invalid_scenarios_always_give_exit_code_2_and_one_message(case: tuple[str, dict[str, Any]]) -> None:
    description, data = case
    path = _WORK / "broken.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert isinstance(result.exception, SystemExit), f"{description}: crashed with {result.exception!r}"
    assert result.exit_code == 2, f"{description}: exit code {result.exit_code}\n{result.output}"
    message = result.stderr
    assert message.startswith(f"error: {path}: "), f"{description}: {message}"
    assert sum(line.startswith("error: ") for line in message.splitlines()) == 1
    assert "Traceback" not in message
    assert result.stdout == ""
