"""Saving the page's variant as a scenario file in the scenario's folder.

Two ways, as the page offers them:

* ``values``: the variant itself, a scenario whose inputs have the changed values. The base file's text is
  kept, comments and all, with each changed value rewritten where it stands (in flow style) and a header
  saying what changed; ``revsim compare BASE SAVED`` compares it with the base.
* ``levers``: the base unchanged, with the changes added to its ``levers:`` block (one lever per change, a
  ``--set`` line as a lever that sets the value; a lever of the scenario at its own setting is used as it
  is); ``revsim compare SAVED --lever a+b`` runs the variant.

Either way the file is checked before it is written: read back, it must give the page's variant (the same
data for ``values``; the same draws of a short run for ``levers``). Where the text cannot be edited in place
(a value the file leaves out, a ``levers:`` block in flow style), the whole scenario is written out instead,
without the base's comments. The file is written under a temporary name and renamed into place.
"""

from __future__ import annotations

import copy
import datetime as _dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from revsim.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from revsim.scenario.load import LoadedScenario
    from revsim.serve.session import WhatIfSession
    from revsim.serve.variant import Variant

__all__ = ["MODES", "SavedVariant", "FileExists", "save_variant", "variant_text", "levers_text"]

MODES = ("values", "levers")

#: Draws of the short run that checks a file saved with levers.
_CHECK_DRAWS = 16


class FileExists(ValueError):
    """The file exists and the page did not ask to replace it (HTTP 409)."""


@dataclass(frozen=True)
class SavedVariant:
    """What was written: the file, how, and the command that runs the variant from it."""

    path: Path
    shown: str  # the file as the command line names it (next to the served file)
    mode: str
    command: str
    comments_kept: bool
    levers: list[str]


def save_variant(session: WhatIfSession, variant: Variant, file_name: str, *, mode: str = "values",
                 name: str | None = None, overwrite: bool = False) -> SavedVariant:
    """Write ``variant`` into the scenario's folder as ``file_name`` (see the module's description).

    Raises
    ------
    OutsideFolder
        For a file name that is not a plain name in the folder.
    FileExists
        When the file exists and ``overwrite`` is not set.
    InputError
        For an unknown mode, the served file itself, or a name the schema refuses.
    """
    from revsim.results.output_dir import write_files

    if mode not in MODES:
        raise InputError.single(f"unknown way to save '{mode}': expected {' or '.join(MODES)}")
    path = session.folder.scenario_file(file_name)
    if path.resolve() == Path(session.scenario_file).resolve():
        raise InputError.single(f"{path.name} is the scenario the page shows: save the variant under another name")
    if path.exists() and not overwrite:
        raise FileExists(f"{path.name} already exists in {session.folder.root.name}/")
    shown = str(Path(session.scenario_file).parent / path.name)
    base_text = Path(session.scenario_file).read_text(encoding="utf-8")
    if mode == "values":
        text, kept, levers = _values_file(session, variant, base_text, path, shown, name)
        command = f"revsim compare {session.scenario_file} {shown}"
    else:
        text, kept, levers = _levers_file(session, variant, base_text, path, shown)
        command = f"revsim compare {shown}" + (f" --lever {'+'.join(levers)}" if levers else "")
    command += f" --draws {session.draws} --seed {session.seed}"
    write_files(session.folder.root, {path.name: lambda tmp: tmp.write_text(text, encoding="utf-8")})
    return SavedVariant(path, shown, mode, command, kept, levers)


# ---------------------------------------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------------------------------------


def _values_file(session: WhatIfSession, variant: Variant, base_text: str, path: Path, shown: str,
                 name: str | None) -> tuple[str, bool, list[str]]:
    from revsim.scenario.overrides import override_scenario

    scenario = variant.scenario
    if name and name.strip() and name.strip() != scenario.model.name:
        try:
            scenario, _ = override_scenario(scenario, {"name": name.strip()}, source="name")
        except InputError as exc:
            raise InputError.single(f"scenario name: {exc.problems[0].message if exc.problems else exc}") from None
    header = _header(session, variant, f"What-if variant of {Path(session.scenario_file).name}",
                     f"Compare it with the base: revsim compare {session.scenario_file} {shown}")

    def same(text: str) -> bool:
        loaded = _read_back(text, path)
        return loaded is not None and loaded.sha256 == scenario.sha256

    edited = variant_text(base_text, session.base.data, scenario.data)
    if edited is not None and same(_with_header(edited, header)):
        return _with_header(edited, header), True, []
    dumped = _with_header(_dump(scenario.data), header)
    if not same(dumped):  # pragma: no cover - the dump is the data itself
        raise RuntimeError("the variant could not be written as a scenario that reads back the same")
    return dumped, False, []


def variant_text(text: str, base: dict[str, Any], variant: dict[str, Any]) -> str | None:
    """``text`` (the base's file) with every value that differs in ``variant`` rewritten in place.

    Returns None when a change cannot be made in the text (a key to remove, a file whose structure is not
    that of ``base``).
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    edits: list[tuple[int, int, str]] = []
    for op, loc, value in _differences(base, variant, ()):
        if op == "remove":
            return None
        node = _node_at(root, loc if op == "replace" else loc[:-1])
        if node is None:
            return None
        if op == "replace":
            edits.append((node.start_mark.index, _end(text, node), _flow(value)))
            continue
        insertion = _insertion(text, node, str(loc[-1]), value)
        if insertion is None:
            return None
        edits.append(insertion)
    if not edits:
        return text
    for start, end, replacement in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def _differences(a: Any, b: Any, loc: tuple[Any, ...]) -> Iterator[tuple[str, tuple[Any, ...], Any]]:
    """The smallest edits that turn ``a`` into ``b``: replace a value, add a mapping key, remove one."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in a:
            if key not in b:
                yield "remove", (*loc, key), None
        for key, value in b.items():
            if key in a:
                yield from _differences(a[key], value, (*loc, key))
            else:
                yield "add", (*loc, key), value
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _differences(x, y, (*loc, i))
    elif type(a) is not type(b) or a != b:
        yield "replace", loc, b


def _node_at(root: Any, loc: tuple[Any, ...]) -> Any:
    node = root
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(key)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
            node = node.value[key]
        else:
            return None
        if node is None:
            return None
    return node


def _end(text: str, node: Any) -> int:
    """Where a node's text ends: its end mark, before the blank space and line breaks that follow it."""
    end = node.end_mark.index
    if isinstance(node, yaml.ScalarNode) or getattr(node, "flow_style", False):
        return end
    while end > node.start_mark.index and text[end - 1] in " \t\r\n":
        end -= 1
    return end


def _insertion(text: str, mapping: Any, key: str, value: Any) -> tuple[int, int, str] | None:
    """Where and what to insert to add ``key: value`` to a mapping node of the text."""
    if not isinstance(mapping, yaml.MappingNode):
        return None
    entry = f"{_flow(key)}: {_flow(value)}"
    if mapping.flow_style:
        close = mapping.end_mark.index - 1
        if text[close] != "}":
            return None
        return close, close, (", " if mapping.value else "") + entry
    if not mapping.value:
        return None
    column = mapping.value[0][0].start_mark.column
    end = _end(text, mapping.value[-1][1])
    line_end = text.find("\n", end)
    at = len(text) if line_end < 0 else line_end  # after a comment that ends the last entry's line
    return at, at, "\n" + " " * column + entry


def _flow(value: Any) -> str:
    """A value as one line of YAML that reads back as the same value."""
    dumped = yaml.safe_dump(value, default_flow_style=True, width=1 << 30, sort_keys=False, allow_unicode=True)
    dumped = dumped.strip()
    if dumped.endswith("\n..."):
        dumped = dumped[:-4].rstrip()
    elif dumped.endswith("..."):
        dumped = dumped[:-3].rstrip()
    return dumped


def _dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)


# ---------------------------------------------------------------------------------------------------------
# levers
# ---------------------------------------------------------------------------------------------------------


def _levers_file(session: WhatIfSession, variant: Variant, base_text: str, path: Path,
                 shown: str) -> tuple[str, bool, list[str]]:
    from revsim.scenario.levers import scenario_levers

    existing = set(scenario_levers(session.base))
    taken = set(existing)
    names, entries = [], []
    for change, entry in _lever_entries(session, variant):
        if entry is None:
            names.append(change)
            continue
        entry["name"] = _unique(entry["name"], taken)
        names.append(entry["name"])
        entries.append(entry)
    command = f"revsim compare {shown}" + (f" --lever {'+'.join(names)}" if names else "")
    header = _header(session, variant, f"{Path(session.scenario_file).name} with the what-if as levers",
                     f"Run the variant: {command}")

    def same(text: str) -> bool:
        loaded = _read_back(text, path)
        return loaded is not None and _simulates_like(loaded, names, variant.scenario, session.seed)

    edited = levers_text(base_text, entries)
    if edited is not None and same(_with_header(edited, header)):
        return _with_header(edited, header), True, names
    data = copy.deepcopy(session.base.data)
    levers = data.get("levers") or []
    if isinstance(levers, dict):
        levers = [{"name": key, **value} for key, value in levers.items()]
    data["levers"] = [*levers, *entries]
    dumped = _with_header(_dump(data), header)
    if not same(dumped):
        raise InputError.single("the changes cannot be written as levers of the scenario (a --set value that no "
                                "lever can carry); save the variant with its values instead")
    return dumped, False, names


def _lever_entries(session: WhatIfSession, variant: Variant) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """Per change: the name of a lever of the scenario used as it is, or a new lever's entry."""
    from revsim.scenario.overrides import constant_value, parse_assignment

    by_id = {c.id: c for c in session.controls}
    for change in variant.changes:
        control = by_id.get(change.source)
        if control is not None and change.lever is not None:
            if change.lever is control.lever and control.id.startswith("lever:"):
                yield change.lever.name, None
                continue
            spec = change.lever
            described = control.describe(change.setting)
            name = f"{control.lever.name} at {described}" if control.id.startswith("lever:") else \
                f"{control.label} {described}"
            entry: dict[str, Any] = {
                "name": _slug(name),
                "path": spec.paths[0] if len(spec.paths) == 1 else list(spec.paths),
                "change": spec.change.describe() if spec.change.numeric else spec.change.value,
                "description": change.text,
            }
            yield entry["name"], entry
            continue
        path, value = parse_assignment(change.text.removeprefix("--set "))
        number = constant_value(value)
        yield "", {"name": _slug(f"set {path}"), "path": path,
                   "change": f"={number:.12g}" if number is not None else value,
                   "description": change.text}


def levers_text(text: str, entries: list[dict[str, Any]]) -> str | None:
    """``text`` with ``entries`` added to its ``levers:`` block (or a new block at the end); None when the
    block is not a block-style list."""
    if not entries:
        return text
    items = [_flow({k: v for k, v in entry.items() if v != ""}) for entry in entries]
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    node = _node_at(root, ("levers",))
    if node is None:
        if any(isinstance(k, yaml.ScalarNode) and k.value == "levers" for k, _ in root.value):
            return None  # `levers:` with nothing
        ending = "" if text.endswith("\n") else "\n"
        return text + ending + "\nlevers:\n" + "".join(f"  - {item}\n" for item in items)
    if not isinstance(node, yaml.SequenceNode) or node.flow_style or not node.value:
        return None
    column = node.start_mark.column
    end = _end(text, node)
    line_end = text.find("\n", end)
    at = len(text) if line_end < 0 else line_end
    return text[:at] + "".join(f"\n{' ' * column}- {item}" for item in items) + text[at:]


def _simulates_like(loaded: LoadedScenario, levers: list[str], variant: LoadedScenario, seed: int) -> bool:
    """Whether ``loaded`` with ``levers`` applied in turn draws exactly what ``variant`` draws (a short run)."""
    import numpy as np

    from revsim.pipeline import simulate
    from revsim.scenario.overrides import apply_lever

    scenario = loaded
    try:
        for name in levers:
            scenario, _ = apply_lever(scenario, name)
    except InputError:
        return False
    a, b = (simulate(s, draws=_CHECK_DRAWS, seed=seed, cohorts=False) for s in (scenario, variant))
    return all(np.array_equal(a[v].values, b[v].values, equal_nan=True)
               for v in ("arr", "active_customers", "new_customers"))


# ---------------------------------------------------------------------------------------------------------
# shared
# ---------------------------------------------------------------------------------------------------------


def _read_back(text: str, path: Path) -> LoadedScenario | None:
    from revsim.scenario.load import parse_scenario_text

    try:
        return parse_scenario_text(text, file=str(path), base_dir=path.parent)
    except InputError:
        return None


def _header(session: WhatIfSession, variant: Variant, title: str, footer: str) -> str:
    today = _dt.date.today().isoformat()
    lines = [f"{title}, saved by revsim serve on {today}."]
    if variant.changes:
        lines.append("Changes:")
        lines += [f"  - {change.text}" for change in variant.changes]
    else:
        lines.append("No changes: the base as it is.")
    lines.append(footer)
    return "".join(f"# {line}\n" for line in lines)


def _with_header(text: str, header: str) -> str:
    """``header`` at the top of ``text``, after an editor's modeline (``# yaml-language-server: ...``)."""
    first, newline, rest = text.partition("\n")
    if first.startswith("# yaml-language-server:"):
        return first + newline + header + rest
    return header + text


def _slug(text: str) -> str:
    """A lever name from a text: ``MQL -> SQL +3 pts`` -> ``mql_sql_plus_3_pts``."""
    words = text.replace("+", " plus ").replace("\u2212", " minus ").replace("%", " pct ").replace("\u2192", " ")
    words = re.sub(r"(?<![A-Za-z0-9])-(?=\d)", " minus ", words)
    slug = re.sub(r"[^A-Za-z0-9]+", "_", words).strip("_").lower()
    slug = slug if slug[:1].isalpha() else f"lever_{slug}"
    return slug[:60].rstrip("_") or "lever"


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name[:56]}_{n}", n + 1
    taken.add(candidate)
    return candidate

