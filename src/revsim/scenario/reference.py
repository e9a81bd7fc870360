"""The scenario reference as Markdown, written from the JSON Schema so that it cannot drift from the code.

``revsim schema --format markdown`` prints it; the documentation site renders it on its scenario reference
page. One section per block (the top level, then each block in the order the top level first names it), one
table row per field: its name, what it accepts, its unit, its default and its description.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

__all__ = ["reference_markdown", "field_rows", "block_order"]

_DOMAIN_TEXT = {"probability": "0 to 1", "positive": "> 0", "nonnegative": ">= 0", "real": "any"}
_SHORTHANDS = [("segments", "Segment"), ("levers", "Lever")]


def block_order(schema: dict[str, Any]) -> list[str]:
    """The blocks (``$defs`` with fields) in the order the file meets them: depth first from the top level."""
    definitions = schema.get("$defs", {})
    order: list[str] = []

    def visit(node: Any) -> None:
        for reference in _references(node):
            if reference in definitions and reference not in order:
                order.append(reference)
                visit(definitions[reference])

    visit(schema.get("properties", {}))
    order += [name for name in definitions if name not in order]
    return [name for name in order if "properties" in definitions[name]]  # blocks, not value forms


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"].rsplit("/", 1)[-1]
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


def _anchor(block: str) -> str:
    """The block's heading anchor, as GitHub and MyST write it (``SalesCapacity`` -> ``salescapacity``)."""
    return block.lower()


def _accepts(schema: dict[str, Any]) -> str:
    """What a field accepts, in a few words."""
    form = schema.get("x-form")
    if form == "uncertain":
        percent = ", or %" if schema.get("x-percent") else ""
        return f"uncertain number ({_DOMAIN_TEXT[schema['x-domain']]}{percent}): a number, [low, high] or dist:"
    if form == "number":
        percent = " or %" if schema.get("x-percent") else ""
        return f"number ({_DOMAIN_TEXT[schema['x-domain']]}){percent}, amounts like 40k"
    if "$ref" in schema:
        block = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{block}](#{_anchor(block)})"
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        return "one of " + ", ".join(f"`{value}`" for value in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            forms = [_accepts(option) for option in schema[key] if option.get("type") != "null"]
            percent = [option for option in schema[key] if "%" in str(option.get("pattern", ""))]
            if percent and len(forms) == 2:
                return f"{forms[0]}, or %"
            return " or ".join(dict.fromkeys(forms))
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items") or {}
        count = ""
        if schema.get("minItems") is not None and schema.get("minItems") == schema.get("maxItems"):
            count = f"{schema['minItems']} "
        if "prefixItems" in schema:
            return f"list of {len(schema['prefixItems'])} values"
        return f"list of {count}{_accepts(items) if items else 'values'}"
    if kind == "object":
        values = schema.get("additionalProperties")
        if isinstance(values, dict) and values:
            return f"mapping: name -> {_accepts(values)}"
        return "mapping"
    if kind == "integer":
        return "whole number" + _bounds(schema)
    if kind == "number":
        return "number" + _bounds(schema)
    if kind == "string":
        return "text" + (f" matching `{schema['pattern']}`" if "pattern" in schema and len(schema["pattern"]) < 30
                         else "")
    if kind == "boolean":
        return "true or false"
    return "any value"


def _bounds(schema: dict[str, Any]) -> str:
    parts = []
    if "minimum" in schema:
        parts.append(f">= {schema['minimum']}")
    if "exclusiveMinimum" in schema:
        parts.append(f"> {schema['exclusiveMinimum']}")
    if "maximum" in schema:
        parts.append(f"<= {schema['maximum']}")
    return f" ({', '.join(parts)})" if parts else ""


def _default(schema: dict[str, Any], required: bool) -> str:
    if required:
        return "required"
    if "x-default" in schema:
        return str(schema["x-default"])
    if "default" not in schema:
        if schema.get("type") in ("array", "object"):
            return "empty"
        if "$ref" in schema or "anyOf" in schema:
            return "the block's defaults"
        return "none"
    value = schema["default"]
    if value is None:
        return "none"
    if value in ("", [], {}):
        return "empty"
    return f"`{json.dumps(value)}`"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def field_rows(block: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(field, accepts, unit, default, description) of each field of a block (or of the top level)."""
    required = set(block.get("required", []))
    rows = []
    for name, field in block.get("properties", {}).items():
        rows.append((name, _accepts(field), field.get("x-unit", ""), _default(field, name in required),
                     field.get("description", "")))
    return rows


def _table(block: dict[str, Any]) -> list[str]:
    lines = ["| field | accepts | unit | default | description |", "|---|---|---|---|---|"]
    for name, accepts, unit, default, description in field_rows(block):
        lines.append(f"| `{name}` | {_cell(accepts)} | {_cell(unit)} | {_cell(default)} | {_cell(description)} |")
    return lines


def _summary(text: str) -> str:
    """A block's description without its reStructuredText markup and without numpy-style sections
    (``Parameters`` and its dashes: the table below lists the fields)."""
    text = re.split(r"\n\s*\w[\w ]*\n\s*-{3,}\s*\n", text, maxsplit=1)[0]
    return re.sub(r"``([^`]+)``", r"`\1`", re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", text)).strip()


def reference_markdown(schema: dict[str, Any], *, heading_level: int = 1) -> str:
    """The scenario reference: the top-level fields, then one section per block, as Markdown."""
    hashes = "#" * heading_level
    lines = [f"{hashes} Scenario file fields", "",
             "Every field of a scenario file, generated from the scenario schema (`revsim schema`). *Uncertain* "
             "numbers take a constant, a 90% range `[low, high]` or a distribution (`{dist: beta, mean: 0.3, sd: "
             "0.04}`); fields marked `or %` also take percentages (`1.5%`). Amounts can be written `40k`, "
             "`1.2M`. The blocks `pricing`, `onboarding`, `retention`, `expansion` and `advocacy` take their "
             "settings directly, or one entry per segment (and `default`).", "",
             f"{hashes}# Top level", ""]
    lines += _table(schema)
    for name in block_order(schema):
        block = schema["$defs"][name]
        lines += ["", f"{hashes}# {name}", ""]
        if block.get("description"):
            lines += [_summary(block["description"]), ""]
        lines += _table(block)
    return "\n".join(lines) + "\n"
