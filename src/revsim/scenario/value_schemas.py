"""JSON Schemas of the values a scenario field takes: numbers, amounts, percentages, ranges, distributions.

They describe what :func:`revsim.scenario.distributions.parse_uncertain` and the amount parser accept, for
the JSON Schema of scenario files (:mod:`revsim.scenario.json_schema`): an editor validates and completes a
file with it. The schema is the first line of defence; the loader still checks everything (a beta's mean
below 1, a file that exists...) with its own messages.
"""

from __future__ import annotations

from typing import Any

from revsim.scenario.distributions import _FAMILIES

__all__ = ["AMOUNT_PATTERN", "PERCENT_PATTERN", "DISTRIBUTION_KEYS", "number_schema", "uncertain_schema",
           "amount_schema"]

_DIGITS = r"\d+(_\d+)*"
_DECIMAL = rf"({_DIGITS}(\.({_DIGITS})?)?|\.{_DIGITS})([eE][-+]?\d+)?"
#: An amount written as text: ``12M``, ``$250k``, ``1.5B``, ``12_000`` (as the amount parser reads them).
AMOUNT_PATTERN = rf"^\s*[-+]?\s*[$\u20ac\u00a3]?\s*{_DECIMAL}\s*[kKmMbB]?\s*$"
#: A percentage: ``1.5%``, ``-2 %`` (as :func:`revsim.scenario.percent.parse_percent` reads them).
PERCENT_PATTERN = rf"^\s*[-+]?\s*{_DECIMAL}\s*%\s*$"

#: For each ``dist:`` family: its alternative sets of required keys, and its optional keys (the parser's own
#: table, so that the schema and the parser cannot disagree).
DISTRIBUTION_KEYS = _FAMILIES

_BOUNDS = {
    "probability": {"minimum": 0, "maximum": 1},
    "positive": {"exclusiveMinimum": 0},
    "nonnegative": {"minimum": 0},
    "real": {},
}
_TEXT_KEYS = {"file": {"type": "string", "description": "A file, relative to the scenario file."},
              "column": {"type": "string", "description": "The CSV column holding the samples."},
              "var": {"type": "string", "description": "The posterior variable."},
              "coords": {"type": "object", "description": "Dimension -> label (or position) fixing the variable's "
                                                          "other dimensions."}}


def number_schema(domain: str = "real", *, fraction: bool = False) -> dict[str, Any]:
    """One number: a JSON number within the domain's bounds, or an amount (or a percentage) written as text."""
    forms: list[dict[str, Any]] = [{"type": "number", **_BOUNDS[domain]},
                                   {"type": "string", "pattern": AMOUNT_PATTERN}]
    if fraction:
        forms.append({"type": "string", "pattern": PERCENT_PATTERN})
    return {"anyOf": forms, "x-form": "number", "x-domain": domain, "x-percent": fraction}


def _parameter(fraction: bool) -> dict[str, Any]:
    return number_schema("real", fraction=fraction)


def _distribution(family: str, fraction: bool) -> dict[str, Any]:
    alternatives, optional = DISTRIBUTION_KEYS[family]
    keys = dict.fromkeys(k for alternative in alternatives for k in alternative)
    keys.update(dict.fromkeys(optional))
    properties: dict[str, Any] = {"dist": {"const": family}}
    for key in keys:
        properties[key] = _TEXT_KEYS.get(key, _parameter(fraction))
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    required = [["dist", *alternative] for alternative in alternatives]
    if len(required) == 1:
        schema["required"] = required[0]
    else:
        schema["required"] = ["dist"]
        schema["anyOf"] = [{"required": list(alternative)} for alternative in alternatives]
    return schema


def uncertain_schema(domain: str, *, fraction: bool = False) -> dict[str, Any]:
    """An uncertain input: a number, a ``[low, high]`` 90% range, or a ``dist:`` mapping."""
    return {"x-form": "uncertain", "x-domain": domain, "x-percent": fraction, "anyOf": [
        *number_schema(domain, fraction=fraction)["anyOf"],
        {"type": "array", "description": "A 90% range [low, high]: 5% of draws below low, 5% above high.",
         "items": number_schema(domain, fraction=fraction), "minItems": 2, "maxItems": 2},
        {"type": "object", "description": "A distribution: {dist: beta, mean: 0.3, sd: 0.04}...",
         "required": ["dist"],
         "properties": {"dist": {"enum": list(DISTRIBUTION_KEYS)}},
         "oneOf": [_distribution(family, fraction) for family in DISTRIBUTION_KEYS]},
    ]}


def amount_schema() -> dict[str, Any]:
    """A known (not uncertain) non-negative amount: ``40k``, ``1.2M``, ``8000``."""
    return number_schema("nonnegative")
