"""Sphinx extension: the scenario reference page, written from the scenario JSON Schema at build time.

The page ``reference/scenario-schema.md`` holds an introduction and the marker line below; when Sphinx reads
it, the marker is replaced with :func:`revsim.scenario.reference.reference_markdown` of
:func:`revsim.scenario.json_schema.scenario_json_schema`, so the reference is the schema and cannot drift.
"""

from __future__ import annotations

from typing import Any

MARKER = "<!-- scenario-fields: generated from the schema when the documentation is built -->"
PAGE = "reference/scenario-schema"


def _insert_reference(app: Any, docname: str, source: list[str]) -> None:
    if docname != PAGE:
        return
    from revsim.scenario.json_schema import scenario_json_schema
    from revsim.scenario.reference import reference_markdown

    if MARKER not in source[0]:
        raise RuntimeError(f"{PAGE}.md lost its marker line {MARKER!r}")
    source[0] = source[0].replace(MARKER, reference_markdown(scenario_json_schema(), heading_level=2))


def setup(app: Any) -> dict[str, Any]:
    app.connect("source-read", _insert_reference)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
