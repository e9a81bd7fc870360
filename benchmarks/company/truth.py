"""Read a company's truth: a plain dict in revsim's scenario-file format, every input a constant.

The truth uses the keys of a scenario file (``docs/scenario.md``), restricted to what a company started from
nothing needs: ``start``, ``segments``, ``channels``, ``funnel.stages``, ``pricing``, ``onboarding``,
``retention``, ``expansion``, ``advocacy`` and ``loops``. Every input is a plain number. Anything else that
would change the simulation (an interval, a ``dist:`` mapping, ``initial_book``, ``funnel.open_at_start``,
``funnel.sales_capacity``, ``costs``, ``correlations``...) is refused with a :class:`ValueError` naming the
field, rather than ignored.

:func:`read_truth` turns the dict into a :class:`Company` of numpy arrays (per segment, per stage) that
:mod:`benchmarks.company.simulate` runs.
"""

from __future__ import annotations

import copy
import difflib
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Company", "Channel", "Loop", "read_truth", "month_index", "month_label", "engine_scenario"]

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
#: Top-level keys a truth may hold; the ones that only describe (name, currency...) do not change the run.
_TOP_KEYS = {"name", "description", "start", "horizon_months", "currency", "segments", "channels", "funnel",
             "pricing", "onboarding", "retention", "expansion", "advocacy", "loops"}
_REFUSED = {
    "initial_book": "companies start from nothing at `start`; simulate from an earlier start instead",
    "costs": "costs do not change the company's history",
    "targets": "targets do not change the company's history",
    "correlations": "every input of a truth is a constant",
    "levers": "levers belong to plans, not to a truth",
    "calibration": "calibration priors belong to plans, not to a truth",
}
#: Fields of the per-segment blocks, with their defaults (None: required).
_BLOCKS: dict[str, dict[str, Any]] = {
    "pricing": {"acv": None, "acv_cv": 0.0},
    "onboarding": {"success": 1.0, "months": 1},
    "retention": {"model": "constant", "churn": None, "alpha": None, "beta": None, "contract_months": 1},
    "expansion": {"rate": 0.0, "size": 0.0, "contraction_rate": 0.0, "contraction_size": 0.0,
                  "price_uplift": 0.0},
    "advocacy": {"rate": 0.0, "adoption_months": 3},
}
LOOP_SOURCES = ("advocates", "active_customers", "new_customers", "mrr")


def month_index(label: str) -> int:
    """Months since year 0 of a ``YYYY-MM`` label (consecutive months differ by 1)."""
    match = _MONTH.match(str(label))
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"expected a month as YYYY-MM (e.g. 2024-01), got {label!r}")
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


def month_label(index: int) -> str:
    """``YYYY-MM`` of a month index from :func:`month_index`."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@dataclass(frozen=True)
class Channel:
    """A source of entries: ``volume * (1 + growth) ** t * seasonality[calendar month]`` a month."""

    name: str
    volume: float
    growth: float
    seasonality: np.ndarray  # [12], January first
    dispersion: float
    stage: int
    mix: np.ndarray  # [segment], sums to 1


@dataclass(frozen=True)
class Loop:
    """A growth loop: ``Poisson(coefficient * source(t - lag))`` entries at ``target`` per source segment."""

    name: str
    kind: str | None
    source: str
    source_segment: int | None
    target: int
    coefficient: float
    lag: int
    segment: int | None


@dataclass(frozen=True)
class Company:
    """The truth as arrays: per segment ``[S]``, per converting stage and segment ``[K - 1, S]``."""

    name: str
    start: int
    segments: list[str]
    stages: list[str]
    channels: list[Channel]
    loops: list[Loop]
    conversion: np.ndarray  # [K - 1, S]
    months_in_stage: np.ndarray  # [K - 1, S]
    acv: np.ndarray
    acv_cv: np.ndarray
    onboarding_success: np.ndarray
    onboarding_months: np.ndarray  # int; 0 is treated as 1 by the simulation
    sbg: np.ndarray  # bool: sBG retention, else constant churn
    churn: np.ndarray  # constant churn per renewal (NaN for sBG segments)
    alpha: np.ndarray  # sBG (NaN for constant segments)
    beta: np.ndarray
    contract_months: np.ndarray  # int
    upgrade_rate: np.ndarray
    upgrade_size: np.ndarray
    downgrade_rate: np.ndarray
    downgrade_size: np.ndarray
    price_uplift: np.ndarray
    advocacy_rate: np.ndarray
    adoption_months: np.ndarray  # int

    @property
    def sources(self) -> list[str]:
        """Where entries come from: the channels, then the loops (by name)."""
        return [c.name for c in self.channels] + [lp.name for lp in self.loops]


class _Reader:
    def __init__(self, truth: dict[str, Any]) -> None:
        self.truth = truth

    @staticmethod
    def fail(path: str, message: str) -> None:
        raise ValueError(f"truth: {path}: {message}")

    def mapping(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping, got {type(value).__name__}")
        return value

    def keys(self, value: dict[str, Any], allowed: set[str], path: str) -> None:
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                self.fail(f"{path}.{key}" if path else str(key),
                          f"unknown or unsupported key (the independent simulator knows "
                          f"{', '.join(sorted(allowed))}){hint}")

    def number(self, value: Any, path: str, *, low: float | None = None, high: float | None = None,
               integer: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            self.fail(path, f"expected a constant number, got {value!r} (a truth holds constants only: the "
                            "simulated company is one world, not a distribution)")
        x = float(value)
        if not np.isfinite(x):
            self.fail(path, f"expected a finite number, got {value!r}")
        if integer and x != round(x):
            self.fail(path, f"expected a whole number, got {value!r}")
        if low is not None and x < low:
            self.fail(path, f"must be at least {low:g}, got {value!r}")
        if high is not None and x > high:
            self.fail(path, f"must be at most {high:g}, got {value!r}")
        return x

    def name(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not value:
            self.fail(path, f"expected a name, got {value!r}")
        return value


def read_truth(truth: dict[str, Any]) -> Company:
    """Check a truth dict and turn it into arrays.

    Raises
    ------
    ValueError
        Naming the field (``funnel.stages[2].conversion``) for anything the simulator cannot run faithfully:
        a non-constant input, an unknown key, a key it does not support (``initial_book``...), a value out of
        its domain.
    """
    r = _Reader(truth)
    r.mapping(truth, "truth")
    for key in truth:
        if key in _REFUSED:
            r.fail(str(key), f"not supported by the independent simulator: {_REFUSED[key]}")
    r.keys(truth, _TOP_KEYS, "")
    if "start" not in truth:
        r.fail("start", "required (the first simulated month, YYYY-MM)")
    try:
        start = month_index(truth["start"])
    except ValueError as exc:
        r.fail("start", str(exc))

    # segments
    raw_segments = truth.get("segments") or [{"name": "all"}]
    segments: list[str] = []
    shares: list[float] = []
    for i, item in enumerate(raw_segments):
        if isinstance(item, str):
            item = {"name": item}
        r.mapping(item, f"segments[{i}]")
        r.keys(item, {"name", "share"}, f"segments[{i}]")
        segments.append(r.name(item.get("name"), f"segments[{i}].name"))
        shares.append(r.number(item.get("share", 1.0), f"segments[{i}].share", low=0))
    if len(set(segments)) != len(segments):
        r.fail("segments", "segment names must be unique")
    S = len(segments)
    share = np.asarray(shares)
    share = share / share.sum() if share.sum() > 0 else np.full(S, 1.0 / S)

    # funnel
    funnel = r.mapping(truth.get("funnel"), "funnel")
    for key in funnel:
        if key in ("open_at_start", "sales_capacity"):
            r.fail(f"funnel.{key}", "not supported by the independent simulator: companies start from nothing "
                                    "and sales capacity is not simulated")
    r.keys(funnel, {"stages"}, "funnel")
    raw_stages = funnel.get("stages")
    if not isinstance(raw_stages, list) or len(raw_stages) < 2:
        r.fail("funnel.stages", "expected a list of at least 2 stages")
    stages = [r.name(r.mapping(st, f"funnel.stages[{k}]").get("name"), f"funnel.stages[{k}].name")
              for k, st in enumerate(raw_stages)]
    if len(set(stages)) != len(stages):
        r.fail("funnel.stages", "stage names must be unique")
    K = len(stages)
    conversion = np.zeros((K - 1, S))
    months = np.zeros((K - 1, S))
    for k, st in enumerate(raw_stages):
        path = f"funnel.stages[{k}]"
        if k == K - 1:
            r.keys(st, {"name"}, path)
            continue
        r.keys(st, {"name", "conversion", "months", "by_segment"}, path)
        for field, target, high in (("conversion", conversion, 1.0), ("months", months, None)):
            if field not in st:
                r.fail(f"{path}.{field}", "required for every stage but the last")
            target[k, :] = r.number(st[field], f"{path}.{field}", low=0, high=high)
        for seg, override in r.mapping(st.get("by_segment", {}), f"{path}.by_segment").items():
            if seg not in segments:
                r.fail(f"{path}.by_segment.{seg}", f"unknown segment (the segments: {', '.join(segments)})")
            r.keys(r.mapping(override, f"{path}.by_segment.{seg}"), {"conversion", "months"},
                   f"{path}.by_segment.{seg}")
            s = segments.index(seg)
            if "conversion" in override:
                conversion[k, s] = r.number(override["conversion"], f"{path}.by_segment.{seg}.conversion",
                                            low=0, high=1)
            if "months" in override:
                months[k, s] = r.number(override["months"], f"{path}.by_segment.{seg}.months", low=0)

    # channels
    channels: list[Channel] = []
    for i, ch in enumerate(truth.get("channels") or []):
        path = f"channels[{i}]"
        r.mapping(ch, path)
        r.keys(ch, {"name", "volume", "growth", "seasonality", "dispersion", "stage", "segment_mix"}, path)
        name = r.name(ch.get("name"), f"{path}.name")
        if "volume" not in ch:
            r.fail(f"{path}.volume", "required")
        season = ch.get("seasonality", [1.0] * 12)
        if not isinstance(season, list) or len(season) != 12:
            r.fail(f"{path}.seasonality", "expected 12 numbers, January to December")
        stage_name = ch.get("stage", stages[0])
        if stage_name not in stages:
            r.fail(f"{path}.stage", f"unknown stage {stage_name!r} (the stages: {', '.join(stages)})")
        if "segment_mix" in ch:
            mix_map = r.mapping(ch["segment_mix"], f"{path}.segment_mix")
            mix = np.zeros(S)
            for seg, w in mix_map.items():
                if seg not in segments:
                    r.fail(f"{path}.segment_mix.{seg}", f"unknown segment (the segments: {', '.join(segments)})")
                mix[segments.index(seg)] = r.number(w, f"{path}.segment_mix.{seg}", low=0)
            if mix.sum() <= 0:
                r.fail(f"{path}.segment_mix", "the weights cannot all be 0")
            mix = mix / mix.sum()
        else:
            mix = share.copy()
        growth = r.number(ch.get("growth", 0.0), f"{path}.growth")
        if growth <= -1:
            r.fail(f"{path}.growth", "must be above -1")
        channels.append(Channel(
            name=name, volume=r.number(ch["volume"], f"{path}.volume", low=0), growth=growth,
            seasonality=np.asarray([r.number(x, f"{path}.seasonality[{j}]", low=0) for j, x in enumerate(season)]),
            dispersion=r.number(ch.get("dispersion", 0.0), f"{path}.dispersion", low=0),
            stage=stages.index(stage_name), mix=mix))

    # per-segment blocks
    blocks = {block: _segment_block(r, truth, block, segments) for block in _BLOCKS}
    pricing, onboarding, retention = blocks["pricing"], blocks["onboarding"], blocks["retention"]
    expansion, advocacy = blocks["expansion"], blocks["advocacy"]
    sbg = np.zeros(S, bool)
    churn, alpha, beta = np.full(S, np.nan), np.full(S, np.nan), np.full(S, np.nan)
    for s, seg in enumerate(segments):
        ret, path = retention[s], f"retention.{seg}"
        model = ret["model"]
        if model not in ("constant", "sbg"):
            r.fail(f"{path}.model", f"expected 'constant' or 'sbg', got {model!r}")
        if model == "sbg":
            sbg[s] = True
            if ret["churn"] is not None:
                r.fail(f"{path}.churn", "an sbg model takes alpha and beta, not churn")
            for key in ("alpha", "beta"):
                if ret[key] is None:
                    r.fail(f"{path}.{key}", "required for an sbg model")
            alpha[s] = r.number(ret["alpha"], f"{path}.alpha", low=1e-12)
            beta[s] = r.number(ret["beta"], f"{path}.beta", low=1e-12)
        else:
            if ret["alpha"] is not None or ret["beta"] is not None:
                r.fail(f"{path}.alpha", "a constant model takes churn, not alpha and beta")
            if ret["churn"] is None:
                r.fail(f"{path}.churn", "required for a constant model")
            churn[s] = r.number(ret["churn"], f"{path}.churn", low=0, high=1)
    up = np.array([r.number(e["rate"], f"expansion.{g}.rate", low=0, high=1) for e, g in zip(expansion, segments)])
    down = np.array([r.number(e["contraction_rate"], f"expansion.{g}.contraction_rate", low=0, high=1)
                     for e, g in zip(expansion, segments)])
    for s, seg in enumerate(segments):
        if up[s] + down[s] > 1:
            r.fail(f"expansion.{seg}", "rate + contraction_rate must be at most 1")

    def per_segment(values: list[dict[str, Any]], block: str, field: str, **limits: Any) -> np.ndarray:
        return np.array([r.number(v[field], f"{block}.{seg}.{field}", **limits)
                         for v, seg in zip(values, segments, strict=True)])

    # loops
    loops: list[Loop] = []
    for i, lp in enumerate(truth.get("loops") or []):
        path = f"loops[{i}]"
        r.mapping(lp, path)
        r.keys(lp, {"name", "kind", "source", "source_segment", "target", "coefficient", "lag", "segment"}, path)
        source = lp.get("source")
        if source not in LOOP_SOURCES:
            r.fail(f"{path}.source", f"expected one of {', '.join(LOOP_SOURCES)}, got {source!r}")
        target = lp.get("target")
        if target not in stages:
            r.fail(f"{path}.target", f"unknown stage {target!r} (the stages: {', '.join(stages)})")
        for key in ("source_segment", "segment"):
            if lp.get(key) is not None and lp[key] not in segments:
                r.fail(f"{path}.{key}", f"unknown segment {lp[key]!r} (the segments: {', '.join(segments)})")
        if "coefficient" not in lp:
            r.fail(f"{path}.coefficient", "required")
        loops.append(Loop(
            name=r.name(lp.get("name"), f"{path}.name"), kind=lp.get("kind"), source=source,
            source_segment=segments.index(lp["source_segment"]) if lp.get("source_segment") else None,
            target=stages.index(target), coefficient=r.number(lp["coefficient"], f"{path}.coefficient", low=0),
            lag=int(r.number(lp.get("lag", 1), f"{path}.lag", low=1, high=60, integer=True)),
            segment=segments.index(lp["segment"]) if lp.get("segment") else None))
    names = [c.name for c in channels] + [lp.name for lp in loops]
    if len(set(names)) != len(names):
        r.fail("loops", "channel and loop names must be distinct (both label the funnel's entries)")
    if not channels and not loops:
        r.fail("channels", "a company started from nothing needs at least one channel")

    return Company(
        name=str(truth.get("name", "company")), start=start, segments=segments, stages=stages,
        channels=channels, loops=loops, conversion=conversion, months_in_stage=months,
        acv=per_segment(pricing, "pricing", "acv", low=1e-12),
        acv_cv=per_segment(pricing, "pricing", "acv_cv", low=0, high=10),
        onboarding_success=per_segment(onboarding, "onboarding", "success", low=0, high=1),
        onboarding_months=per_segment(onboarding, "onboarding", "months", low=0, high=36, integer=True).astype(int),
        sbg=sbg, churn=churn, alpha=alpha, beta=beta,
        contract_months=per_segment(retention, "retention", "contract_months", low=1, high=120,
                                    integer=True).astype(int),
        upgrade_rate=up, upgrade_size=per_segment(expansion, "expansion", "size", low=0, high=10),
        downgrade_rate=down,
        downgrade_size=per_segment(expansion, "expansion", "contraction_size", low=0, high=1),
        price_uplift=per_segment(expansion, "expansion", "price_uplift", low=0, high=10),
        advocacy_rate=per_segment(advocacy, "advocacy", "rate", low=0, high=1),
        adoption_months=per_segment(advocacy, "advocacy", "adoption_months", low=0, high=120,
                                    integer=True).astype(int),
    )


def _segment_block(r: _Reader, truth: dict[str, Any], block: str, segments: list[str]) -> list[dict[str, Any]]:
    """A per-segment block (flat or keyed by segment, with an optional ``default``) as one dict per segment."""
    fields = _BLOCKS[block]
    raw = truth.get(block)
    if raw is None:
        if block in ("pricing", "retention"):
            r.fail(block, "required")
        raw = {}
    r.mapping(raw, block)
    flat = not raw or any(key in fields for key in raw)  # keys that are fields: flat (other keys then refused)
    out = []
    for seg in segments:
        if flat:
            entry, path = raw, block
        else:
            for key in raw:
                if key != "default" and key not in segments:
                    r.fail(f"{block}.{key}", f"unknown segment (the segments: {', '.join(segments)})")
            if seg in raw:
                entry, path = raw[seg], f"{block}.{seg}"
            elif "default" in raw:
                entry, path = raw["default"], f"{block}.default"
            else:
                r.fail(f"{block}.{seg}", "missing: a keyed block must cover every segment (or give a default)")
        r.mapping(entry, path)
        r.keys(entry, set(fields), path)
        values = {**fields, **entry}
        for key, value in values.items():
            if value is None and key not in ("churn", "alpha", "beta"):
                r.fail(f"{path}.{key}", "required")
        out.append(values)
    return out


def engine_scenario(truth: dict[str, Any], months: int) -> dict[str, Any]:
    """The truth as a revsim scenario of ``months`` months (a deep copy with ``horizon_months`` set).

    A truth holds only scenario keys, so this is a valid scenario file's content: write it as YAML and
    ``revsim run`` it, or pass it to ``revsim.scenario.load.scenario_from_dict``, to simulate the same
    company with revsim's engine.
    """
    read_truth(truth)
    scenario = copy.deepcopy(truth)
    scenario["horizon_months"] = int(months)
    return scenario
