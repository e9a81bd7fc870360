"""Reading an uncertain input as a scenario file writes it: a constant, an amount, ``[low, high]`` or a
``dist:`` mapping, checked against the input's domain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from revsim.errors import did_you_mean
from revsim.scenario.distributions.base import (
    DEFAULT_CONFIDENCE,
    DOMAINS,
    Constant,
    Distribution,
    Domain,
    _describe_type,
    _fail,
    _fmt,
    _num,
    _number,
    _with_hint,
)
from revsim.scenario.distributions.intervals import _build_interval, _interval
from revsim.scenario.distributions.parametric import (
    Gamma,
    LogNormal,
    Normal,
    _build_beta,
    _build_gamma,
    _build_lognormal,
    _build_normal,
    _build_pert,
    _build_triangular,
    _build_uniform,
)
from revsim.scenario.distributions.samples import Empirical, Posterior, _build_empirical, _build_posterior

#: For each family: the alternative sets of required parameters, and the optional parameters.
_FAMILIES: dict[str, tuple[tuple[tuple[str, ...], ...], tuple[str, ...]]] = {
    "beta": ((("mean", "sd"), ("alpha", "beta")), ()),
    "normal": ((("mean", "sd"),), ("low", "high")),
    "lognormal": ((("median", "sigma"), ("mean", "sd")), ()),
    "gamma": ((("shape", "scale"), ("mean", "sd")), ()),
    "triangular": ((("low", "mode", "high"),), ()),
    "pert": ((("min", "mode", "max"), ("low", "mode", "high")), ("lambda",)),
    "uniform": ((("low", "high"),), ()),
    "interval": ((("low", "high"),), ("confidence",)),
    "empirical": ((("file",),), ("column", "shift", "scale")),
    "posterior": ((("file", "var"),), ("coords", "shift", "scale")),
}
DISTRIBUTION_NAMES: tuple[str, ...] = tuple(_FAMILIES)


def parse_uncertain(
    value: Any,
    domain: Domain,
    *,
    base_dir: Path | None = None,
    path: tuple = (),
) -> Distribution:
    """Parse a scenario's numeric input into a :class:`Distribution` and check it fits ``domain``.

    Parameters
    ----------
    value
        A number or amount shorthand (a constant), a ``[low, high]`` 90% interval, or a mapping with a
        ``dist:`` key. A :class:`Distribution` is accepted as is (and checked against ``domain``).
    domain
        ``"probability"`` ([0, 1]), ``"positive"`` (> 0), ``"nonnegative"`` (>= 0) or ``"real"``.
    base_dir
        Directory that relative ``file:`` paths (``empirical``, ``posterior``) are resolved against; the
        current directory when None.
    path
        Where the value is in the scenario, for error messages.

    Raises
    ------
    InputError
        With one problem describing what is wrong, with the offending value.
    """
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; expected one of {', '.join(DOMAINS)}")
    path = tuple(path)
    if isinstance(value, Distribution):
        dist = value
    elif isinstance(value, Mapping):
        dist = _parse_mapping(value, domain, base_dir, path)
    elif isinstance(value, list | tuple):
        dist = _parse_interval_list(value, domain, path)
    elif isinstance(value, int | float | str | np.integer | np.floating) and not isinstance(value, bool):
        dist = Constant(_number(value, path))
    else:
        _fail(
            "expected a number, a [low, high] interval or a distribution (a mapping with dist:), "
            f"got {_describe_type(value)}",
            path,
        )
    _check_domain(dist, domain, path)
    return dist


def _parse_interval_list(value: Sequence[Any], domain: str, path: tuple) -> Distribution:
    if len(value) != 2:
        _fail(f"a [low, high] interval needs exactly 2 numbers, got {len(value)}", path)
    low = _number(value[0], (*path, 0), "a number for low")
    high = _number(value[1], (*path, 1), "a number for high")
    return _interval(low, high, DEFAULT_CONFIDENCE, domain, path)


def _parse_mapping(value: Mapping[Any, Any], domain: str, base_dir: Path | None, path: tuple) -> Distribution:
    names = ", ".join(DISTRIBUTION_NAMES)
    if "dist" not in value:
        if not value:
            _fail(
                "expected a number, a [low, high] interval or a distribution (a mapping with dist:), "
                "got an empty mapping",
                path,
            )
        message = f"a distribution needs a 'dist' key (one of {names})"
        near = [k for k in value if did_you_mean(str(k), ["dist"])]
        if near:
            message += f"; did you mean 'dist' instead of '{near[0]}'?"
        _fail(message, path)
    name = value["dist"]
    if not isinstance(name, str):
        _fail(f"dist must be the name of a distribution ({names}), got {_describe_type(name)}", (*path, "dist"))
    family = name.strip().lower()
    if family not in _FAMILIES:
        message = _with_hint(f"unknown distribution '{name}' (known: {names})", family, DISTRIBUTION_NAMES)
        _fail(message, (*path, "dist"))
    params = _select_parameters(value, family, path)
    builder = _BUILDERS[family]
    return builder(params, domain, base_dir, path)


def _select_parameters(value: Mapping[Any, Any], family: str, path: tuple) -> dict[str, Any]:
    """Check the keys of a ``dist:`` mapping; return the parameters (without ``dist``)."""
    alternatives, optional = _FAMILIES[family]
    allowed = [k for alt in alternatives for k in alt] + list(optional)
    given = [k for k in value if k != "dist"]
    for key in given:
        if key not in allowed:
            message = f"unknown key '{key}' for dist: {family} (expected {_keys_text(alternatives, optional)})"
            _fail(_with_hint(message, key, [k for k in allowed if k not in given]), (*path, key))
    shared = set.intersection(*(set(alt) for alt in alternatives))  # e.g. pert's 'mode' in both spellings
    used = [alt for alt in alternatives if any(k in given and k not in shared for k in alt)]
    if not used and any(k in shared for k in given):
        used = [alternatives[0]]
    if len(used) > 1:
        choices = " or ".join(" and ".join(alt) for alt in used)
        _fail(f"dist: {family} takes either {choices}, not a mix of them", path)
    if not used:
        _fail(f"dist: {family} needs {_keys_text(alternatives, ())}", path)
    missing = [k for k in used[0] if k not in given]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        keys = ", ".join(f"'{k}'" for k in missing)
        _fail(f"dist: {family} is missing the required key{plural} {keys} (it needs {' and '.join(used[0])})", path)
    return {str(k): value[k] for k in given}


def _keys_text(alternatives: tuple[tuple[str, ...], ...], optional: tuple[str, ...]) -> str:
    text = " or ".join(", ".join(alt) for alt in alternatives)
    if optional:
        text += f", optionally {', '.join(optional)}"
    return text



_BUILDERS = {
    "beta": _build_beta,
    "normal": _build_normal,
    "lognormal": _build_lognormal,
    "gamma": _build_gamma,
    "triangular": _build_triangular,
    "pert": _build_pert,
    "uniform": _build_uniform,
    "interval": _build_interval,
    "empirical": _build_empirical,
    "posterior": _build_posterior,
}




_EXPECTED = {
    "probability": "a probability between 0 and 1",
    "positive": "a positive number",
    "nonnegative": "a number >= 0",
}


def _check_domain(dist: Distribution, domain: str, path: tuple) -> None:
    """Raise InputError when ``dist`` can take values outside ``domain``."""
    if domain == "real":
        return
    expected = _EXPECTED[domain]
    lo, hi = dist.support()

    def inside(lo: float, hi: float, *, strict_positive: bool) -> bool:
        if domain == "probability":
            return lo >= 0 and hi <= 1
        if domain == "positive" and strict_positive:
            return lo > 0
        return lo >= 0

    if isinstance(dist, Constant):
        if not inside(lo, hi, strict_positive=True):
            _fail(f"expected {expected}, got {_num(dist.value)}", path)
        return
    if isinstance(dist, Empirical | Posterior):
        # Samples are the values drawn, so 0 itself would be drawn: positive means > 0 here.
        if not inside(lo, hi, strict_positive=True):
            source = f"the values in '{dist.source}'" if isinstance(dist, Empirical) else f"the samples of '{dist.var}'"
            show = _num
            if not dist.is_unchanged:
                source += dist.transform_text()
                show = lambda x: _fmt(x, 6)  # noqa: E731 - computed values, shown rounded
            _fail(f"expected {expected}, but {source} range from {show(lo)} to {show(hi)}", path)
        return
    if domain == "probability" and isinstance(dist, LogNormal | Gamma):
        _fail(
            f"expected {expected}, but a {dist.kind} distribution has no upper bound; "
            "use dist: beta or a [low, high] interval",
            path,
        )
    if isinstance(dist, Normal) and not inside(lo, hi, strict_positive=False):
        if domain == "probability":
            fix = "truncate it with low and high within [0, 1], or use dist: beta or a [low, high] interval"
        else:
            fix = "truncate it with low: 0, or use dist: lognormal, dist: gamma or a [low, high] interval"
        bounds = "unbounded" if not dist.truncated else f"ranging from {_num(lo)} to {_num(hi)}"
        _fail(f"expected {expected}, but {dist.describe()} is {bounds}; {fix}", path)
    # Continuous distributions take their lower bound with probability 0, so a support starting at 0 is fine
    # for positive inputs.
    if not inside(lo, hi, strict_positive=False):
        _fail(f"expected {expected}, but {dist.describe()} ranges from {_num(lo)} to {_num(hi)}", path)
