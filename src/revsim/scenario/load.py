"""Scenario file -> validated :class:`~revsim.scenario.schema.Scenario`, with errors users can act on.

Every problem in a file is reported at once, each with its field path (``funnel.stages[2].conversion``), the
line and column where the value sits, what was expected, and a suggestion for a misspelt key.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from revsim.errors import InputError, Problem, did_you_mean
from revsim.scenario.lever_change import explicit_change_signs
from revsim.scenario.levers import lever_problems
from revsim.scenario.schema import ALL_SEGMENTS, Scenario, allowed_keys
from revsim.scenario.yaml_source import YamlDocument, parse_yaml_text, read_yaml_file

__all__ = ["LoadedScenario", "load_scenario", "scenario_from_dict", "scenario_hash", "canonical_json"]


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario with where it came from.

    Attributes
    ----------
    model
        The validated scenario.
    data
        The plain data it was validated from (after any overrides).
    file
        The file name as the user gave it (``"<dict>"`` for scenarios built in Python).
    sha256
        Hash of the canonical JSON form of ``data``: two files that say the same thing hash the same.
    """

    model: Scenario
    data: dict[str, Any]
    file: str
    sha256: str
    locations: dict[tuple[str | int, ...], tuple[int, int]] = field(default_factory=dict, repr=False)
    lever_notes: tuple[str, ...] = field(default=(), repr=False)

    @property
    def name(self) -> str:
        """The scenario's name."""
        return self.model.name

    @property
    def notes(self) -> list[str]:
        """What a careful reader should know about how the scenario was read: levers whose change hangs on an
        unquoted sign, and what files read by the scenario needed (a byte order mark, a legacy encoding,
        semicolons, decimal commas), once per file and fact, with the first input reading it."""
        from revsim.scenario.schema import iter_inputs

        notes: dict[str, str] = {}
        for path, dist in iter_inputs(self.model):
            for note in getattr(dist, "notes", ()):
                notes.setdefault(note, f"{path}: {note}")
        return [*self.lever_notes, *notes.values()]

    def error(self, problems: list[tuple[str, tuple[str | int, ...], str | None]]) -> InputError:
        """An :class:`InputError` in this scenario's file, each problem located at its line.

        ``problems`` holds (message, field path, suggestion) triples.
        """
        located = []
        for message, path, suggestion in problems:
            document = YamlDocument(data=self.data, locations=self.locations, file=self.file, text="")
            line, column = document.locate(path)
            located.append(Problem(message, tuple(path), line, column, suggestion))
        return InputError(located, file=self.file)


def canonical_json(data: Any) -> str:
    """The canonical JSON form of a scenario's data (sorted keys, no spaces): what is hashed and stored."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def scenario_hash(data: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON form of a scenario's data."""
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()


def load_scenario(path: str | os.PathLike[str]) -> LoadedScenario:
    """Read and validate a scenario file.

    Parameters
    ----------
    path
        A YAML scenario file. Files it references (empirical samples, posteriors) resolve next to it.

    Returns
    -------
    LoadedScenario

    Raises
    ------
    InputError
        With every problem in the file, each with its field path and line.
    """
    document = read_yaml_file(path)
    return _validate(document, Path(path).resolve().parent, default_name=Path(path).stem)


def scenario_from_dict(data: dict[str, Any], *, base_dir: str | os.PathLike[str] | None = None,
                       file: str = "<dict>") -> LoadedScenario:
    """Validate a scenario given as plain Python data (as a YAML file would hold it)."""
    text = json.dumps(data, default=str)
    document = YamlDocument(data=data, locations={}, file=file, text=text)
    return _validate(document, Path(base_dir) if base_dir else Path.cwd(), default_name="scenario")


def validate_document(document: YamlDocument, base_dir: Path) -> LoadedScenario:
    """Validate an already parsed document (used after ``--set`` overrides)."""
    return _validate(document, base_dir, default_name=Path(document.file).stem)


def parse_scenario_text(text: str, *, file: str = "<string>", base_dir: Path | None = None) -> LoadedScenario:
    """Validate a scenario given as YAML text."""
    document = parse_yaml_text(text, file=file)
    return _validate(document, base_dir or Path.cwd(), default_name=Path(file).stem or "scenario")


def _validate(document: YamlDocument, base_dir: Path, *, default_name: str) -> LoadedScenario:
    data = document.data
    if not isinstance(data, dict):
        raise InputError.single("expected a mapping at the top level", file=document.file)
    data = dict(data)
    data.setdefault("name", default_name)
    # an unquoted `change: +0.03` is additive although YAML reads the number 0.03: read as it always was, noted
    data, lever_notes = explicit_change_signs(document, data)
    try:
        model = Scenario.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise InputError(_problems(exc, document), file=document.file) from None
    if model.levers:  # once the rest is valid: every lever names inputs that exist and can take its change
        problems = [_problem(message, tuple(p for p in path if p != ALL_SEGMENTS), document)
                    for path, message in lever_problems(data, model)]
        if problems:
            raise InputError(problems, file=document.file)
    files = referenced_files(model)
    digest = scenario_hash({"scenario": data, "files": files} if files else data)
    return LoadedScenario(model=model, data=data, file=document.file, sha256=digest,
                          locations=dict(document.locations), lever_notes=tuple(lever_notes))


def referenced_files(model: Scenario) -> dict[str, str]:
    """SHA-256 of every file the scenario reads (empirical samples, posteriors), keyed by the file as the
    scenario names it (``samples/acv.csv``), so two files of the same name in different folders both count.

    Part of the scenario's hash, so that editing a referenced file changes the hash too.
    """
    from revsim.scenario.schema import iter_inputs

    hashes = {}
    for _, dist in iter_inputs(model):
        resolved = getattr(dist, "path", "") or getattr(dist, "source", "")  # path: resolved next to the scenario
        if resolved and Path(resolved).is_file():
            written = str(getattr(dist, "source", "") or Path(resolved).name)
            hashes[written] = file_sha256(Path(resolved))
    return dict(sorted(hashes.items()))


#: resolved path -> (the file's identity when hashed, its SHA-256)
_FILE_HASHES: dict[str, tuple[tuple[int, int, int, int], str]] = {}
_FILE_HASHES_MAX = 256


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes.

    Every input read from a file asks for its hash (tens of inputs from one posterior file), so the hash is
    kept while the file is unchanged (same inode, size, modification and change times).
    """
    from revsim.scenario.posterior_file import file_identity

    resolved = Path(path).resolve()
    identity = file_identity(resolved)
    cached = _FILE_HASHES.get(str(resolved))
    if cached is not None and cached[0] == identity:
        return cached[1]
    digest = hashlib.sha256()
    with open(resolved, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if len(_FILE_HASHES) >= _FILE_HASHES_MAX:
        _FILE_HASHES.clear()
    _FILE_HASHES[str(resolved)] = (identity, digest.hexdigest())
    return digest.hexdigest()


def _problems(exc: ValidationError, document: YamlDocument) -> list[Problem]:
    problems: list[Problem] = []
    for error in exc.errors(include_url=False):
        loc = tuple(part for part in error["loc"] if part != ALL_SEGMENTS)
        ctx = error.get("ctx") or {}
        if error["type"] == "cross_reference":
            for path, message in ctx["problems"]:
                path = tuple(part for part in path if part != ALL_SEGMENTS)
                problems.append(_problem(message, path, document))
            continue
        if error["type"] == "unknown_key":
            loc = (*loc, ctx["key"])
        message = _message(error)
        if error["type"] == "extra_forbidden":
            allowed = allowed_keys(tuple(error["loc"][:-1]))
            hint = did_you_mean(str(loc[-1]), allowed)
            message = f"unknown key '{loc[-1]}'" + (f"; did you mean '{hint}'?" if hint else
                                                    f"; expected one of: {', '.join(sorted(allowed))}")
        problems.append(_problem(message, loc, document))
    return problems


def _problem(message: str, path: tuple[Any, ...], document: YamlDocument) -> Problem:
    line, column = document.locate(path)
    return Problem(message=message, path=path, line=line, column=column)


_PLAIN_MESSAGES = {
    "missing": "required field is missing",
    "extra_forbidden": "unknown key",
    "int_parsing": "expected a whole number",
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "string_type": "expected text",
    "list_type": "expected a list",
    "dict_type": "expected a mapping (key: value pairs)",
    "model_type": "expected a mapping (key: value pairs)",
    "model_attributes_type": "expected a mapping (key: value pairs)",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
}


def _message(error: dict[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    given = error.get("input")
    shown = _show(given)
    if kind in ("revsim", "unknown_key"):
        return error["msg"]
    if kind == "missing":
        return "required field is missing"
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected')}, got {shown}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        bound = next(iter(ctx.values()))
        return f"expected a value {op} {bound}, got {shown}"
    if kind in ("too_short", "too_long"):
        return error["msg"].replace("List", "the list").replace("Value", "the value")
    if kind == "string_pattern_mismatch":
        return f"got {shown}, which does not match the expected form {ctx.get('pattern')}"
    if kind in ("string_too_short", "string_too_long"):
        return error["msg"].lower()
    if kind in _PLAIN_MESSAGES:
        return f"{_PLAIN_MESSAGES[kind]}, got {shown}"
    return str(error["msg"])


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."
