"""The scenario's levers, carried into ``calibrated.yaml`` so that they keep their meaning.

A lever names inputs by their paths. Calibration can move the inputs a path names:

* a stage's ``conversion`` or ``months`` written once for every segment becomes the first segment's value,
  with ``by_segment`` entries for the others: the lever then also names those entries
  (``funnel.stages.mql.conversion`` and ``funnel.stages.mql.by_segment.mid_market.conversion``), so that
  "MQL conversion three points higher" still moves every segment;
* a per-segment block written once for every segment (``retention: {churn: ...}``) is split by segment: a
  path ``retention.churn`` becomes ``retention.*.churn``;
* a retention model replaced by another (LOO chose the sBG instead of constant churn) has no ``churn`` any
  more: a lever that names it keeps the segments that still have one (``retention.*.churn`` becomes
  ``retention.mid_market.churn``), and is removed, with a note, when none is left.

Relative and additive changes apply to the calibrated inputs (``dist: posterior``) by shifting or scaling
their samples (see :mod:`revsim.scenario.levers`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from revsim.scenario.overrides import PathError, parse_path, resolve

if TYPE_CHECKING:  # pragma: no cover
    from revsim.scenario.load import LoadedScenario

__all__ = ["carry_levers"]

_STAGE_FIELDS = ("conversion", "months")


def carry_levers(loaded: LoadedScenario, data: dict[str, Any]) -> list[str]:
    """Rewrite the levers of ``data`` (the calibrated scenario's data) in place; return notes.

    ``loaded`` is the scenario before calibration, whose levers were valid.
    """
    levers = data.get("levers")
    if not isinstance(levers, list | dict) or not levers:
        return []
    notes: list[str] = []
    items = list(levers.items()) if isinstance(levers, dict) else list(enumerate(levers))
    kept: list[tuple[Any, Any]] = []
    for key, lever in items:
        if not isinstance(lever, Mapping) or "path" not in lever:
            kept.append((key, lever))
            continue
        name = lever.get("name", key)
        written = lever["path"]
        paths = [written] if isinstance(written, str) else [str(p) for p in written]
        carried: list[str] = []
        gone: list[str] = []
        for path in paths:
            moved = _carried_path(loaded, data, path)
            if moved is None:
                gone.append(path)
            else:
                carried += [p for p in moved if p not in carried]
        if gone:
            notes.append(f"lever '{name}' was removed: the calibrated scenario has no {', '.join(gone)} (the "
                         "calibration replaced the input it named; write the lever again for the calibrated inputs)")
            continue
        if carried != paths:
            notes.append(f"lever '{name}' now names {', '.join(carried)} (was {', '.join(paths)}): the calibration "
                         "gave each segment its own value of the inputs it named, or replaced some of them")
        new = dict(lever)
        new["path"] = carried[0] if isinstance(written, str) and len(carried) == 1 else carried
        kept.append((key, new))
    if isinstance(levers, dict):
        data["levers"] = dict(kept)
    else:
        data["levers"] = [lever for _, lever in kept]
    if not data["levers"]:
        data.pop("levers")
    return notes


def _resolves(data: dict[str, Any], loaded: LoadedScenario, path: str) -> list[Any] | None:
    try:
        return resolve(copy.deepcopy(data), loaded.model, path)
    except PathError:
        return None


def _carried_path(loaded: LoadedScenario, data: dict[str, Any], path: str) -> list[str] | None:
    """The paths that name in ``data`` what ``path`` named before calibration; None when nothing is left."""
    targets = _resolves(data, loaded, path)
    if targets is None:
        tokens = parse_path(path)
        if len(tokens) == 2 and isinstance(tokens[0], str) and isinstance(data.get(tokens[0]), dict):
            split = f"{tokens[0]}.*.{tokens[1]}"  # a flat per-segment block split by segment
            if _resolves(data, loaded, split):
                return [split]
        return None
    before = _resolves(loaded.data, loaded, path) or []
    had = {t.input_path for t in before if _has(t)}
    left = [t for t in targets if _has(t) or t.input_path not in had]
    if targets and not left:
        return None
    out = [path] if len(left) == len(targets) else [t.input_path for t in left]  # some segments lost the input
    for target in before:
        out += [p for p in _split_stage_paths(loaded.data, data, target.loc) if p not in out]
    return out


def _has(target: Any) -> bool:
    return bool(target.present and target.value is not None)


def _split_stage_paths(before: dict[str, Any], after: dict[str, Any], loc: tuple[str | int, ...]) -> list[str]:
    """For a stage's ``conversion`` or ``months`` at ``loc``: the ``by_segment`` entries the calibration added
    for segments that took the stage's own value before."""
    if len(loc) != 4 or loc[:2] != ("funnel", "stages") or loc[3] not in _STAGE_FIELDS:
        return []
    index, field = loc[2], str(loc[3])
    try:
        old_stage = before["funnel"]["stages"][index]
        new_stage = after["funnel"]["stages"][index]
    except (KeyError, IndexError, TypeError):
        return []
    old = old_stage.get("by_segment") or {}
    new = new_stage.get("by_segment") or {}
    name = new_stage.get("name")
    return [f"funnel.stages.{name}.by_segment.{segment}.{field}" for segment, entry in new.items()
            if isinstance(entry, Mapping) and field in entry
            and not (isinstance(old.get(segment), Mapping) and field in old[segment])]
