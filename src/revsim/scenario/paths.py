"""The dotted paths that name a scenario's values, and what they lead to.

A path walks the scenario's data the way the file is written: mapping keys by name, list items by their
``name`` (``funnel.stages.mql.conversion``, ``channels.inbound.volume``) or by position (``initial_book[0]``
or ``initial_book.0``), per-segment blocks by segment (``retention.smb.churn``) or, when the block is
written once for every segment, without one (``onboarding.success``). ``*`` stands for every entry at its
level (``retention.*.churn``; for a block written once for every segment it is the block itself).

A path may name a value the file leaves out when the schema allows it there: a field with a default
(``expansion.rate``), a segment's own entry in a per-segment block (created as a copy of the block's
``default`` entry, so only the named value changes), a segment override of a stage (``by_segment``), a
channel's spend. A path that names nothing gets a "did you mean" from the names available at the level
where it went wrong. ``--set`` (:mod:`revsim.scenario.overrides`) and levers (:mod:`revsim.scenario.levers`)
both change values through these paths.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from revsim.errors import InputError, did_you_mean
from revsim.scenario.distributions import Distribution
from revsim.scenario.schema import DEFAULT_KEY, SEGMENT_BLOCKS, Scenario, unwrap_annotation

__all__ = ["PathError", "ResolvedPath", "WILDCARD", "parse_path", "resolve", "parse_value", "parse_assignment",
           "constant_value"]

#: Stands for every entry at its level of a path.
WILDCARD = "*"

_PART = re.compile(r"^([^\[\]]*)((?:\[-?\d+\])*)$")


class PathError(ValueError):
    """A path that names nothing in the scenario: what went wrong, and the corrected path when one is close."""

    def __init__(self, message: str, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.suggestion = suggestion


@dataclass
class ResolvedPath:
    """Where a path leads: the container holding the value, its key there, and the value (None if absent).

    ``loc`` is the data path (mapping keys and list indexes, as error messages locate values); ``input_path``
    the same with list items named (``funnel.stages.mql.conversion``), as the scenario's inputs are named.
    """

    parent: Any
    key: Any
    loc: tuple[str | int, ...]
    input_path: str
    annotation: Any

    @property
    def present(self) -> bool:
        if isinstance(self.parent, list):
            return True
        return isinstance(self.parent, dict) and self.key in self.parent

    @property
    def value(self) -> Any:
        return self.parent[self.key] if self.present else None

    def set(self, value: Any) -> None:
        self.parent[self.key] = value


# ---------------------------------------------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------------------------------------------


def parse_path(text: str) -> list[str | int]:
    """Split a dotted path into keys and list indexes: ``funnel.stages[1].conversion`` ->
    ``["funnel", "stages", 1, "conversion"]``. A part made of digits (``initial_book.0``) is an index too.

    Raises
    ------
    PathError
        When the path is empty or malformed.
    """
    text = str(text).strip()
    if not text:
        raise PathError("the path is empty: expected a dotted path such as funnel.stages.mql.conversion")
    tokens: list[str | int] = []
    for part in text.split("."):
        match = _PART.match(part.strip())
        if not match or (not match.group(1) and not match.group(2)):
            raise PathError(f"'{text}' is not a path: expected names joined by dots, such as "
                            "funnel.stages.mql.conversion (list items by name, or by position as [0])")
        name, indexes = match.group(1).strip(), match.group(2)
        if name:
            tokens.append(int(name) if name.isdigit() else name)
        tokens.extend(int(i) for i in re.findall(r"-?\d+", indexes))
    return tokens


def _show(tokens: Sequence[str | int]) -> str:
    text = ""
    for token in tokens:
        text += f"[{token}]" if isinstance(token, int) else (f".{token}" if text else str(token))
    return text


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _is_uncertain(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, Distribution)


@dataclass
class _Cursor:
    parent: Any
    key: Any
    loc: tuple[str | int, ...]
    named: tuple[str, ...]
    annotation: Any

    @property
    def node(self) -> Any:
        if isinstance(self.parent, list):
            return self.parent[self.key]
        return self.parent.get(self.key) if isinstance(self.parent, dict) else None

    def materialise(self) -> Any:
        """The container here, created empty when the file leaves it out."""
        node = self.node
        if node is None:
            node = {}
            self.parent[self.key] = node
        return node

    def child(self, key: Any, annotation: Any, name: str | None = None) -> _Cursor:
        return _Cursor(self.materialise(), key, (*self.loc, key), (*self.named, name or str(key)), annotation)


class _Walk:
    """One walk of a path through a scenario's data (which it may extend, see the module's description)."""

    def __init__(self, data: dict[str, Any], model: Scenario, tokens: list[str | int]) -> None:
        self.model = model
        self.tokens = tokens
        self.root = _Cursor({"": data}, "", (), (), Scenario)

    def run(self) -> list[ResolvedPath]:
        cursors = [self.root]
        for i, token in enumerate(self.tokens):
            cursors = [nxt for cursor in cursors for nxt in self.step(cursor, token, i)]
            if not cursors:
                raise PathError(f"{_show(self.tokens[:i + 1])} matches nothing in the scenario")
        return [ResolvedPath(c.parent, c.key, c.loc, ".".join(c.named), c.annotation) for c in cursors]

    # -- one step -----------------------------------------------------------------------------------------

    def fail(self, i: int, message: str, word: Any = None, choices: Sequence[Any] = ()) -> PathError:
        hint = did_you_mean(str(word), [str(c) for c in choices]) if word is not None and choices else None
        suggestion = _show([*self.tokens[:i], hint, *self.tokens[i + 1:]]) if hint else None
        return PathError(message, suggestion)

    def step(self, cursor: _Cursor, token: str | int, i: int) -> list[_Cursor]:
        here = _show(self.tokens[:i]) or "the scenario"
        node = cursor.node
        annotation = unwrap_annotation(cursor.annotation)
        if len(cursor.loc) == 1 and cursor.loc[0] in SEGMENT_BLOCKS:
            return self.segment_block(cursor, token, i)
        if isinstance(node, list) and _is_uncertain(annotation) and not isinstance(token, int) and token != WILDCARD:
            raise self.fail(i, f"{here} is a [low, high] interval: its ends are {here}[0] and {here}[1]; to give it "
                               f"a '{token}', write the whole value as a dist: mapping")
        if isinstance(node, list) or (node is None and get_origin(annotation) in (list, tuple)):
            return self.list_item(cursor, token, i, annotation)
        if _is_model(annotation) and not isinstance(node, list):
            return self.model_field(cursor, token, i, annotation)
        if isinstance(node, dict) or (node is None and get_origin(annotation) is dict):
            return self.mapping_entry(cursor, token, i, annotation)
        shown = node if not isinstance(node, str) else repr(node)
        what = f"a single value ({shown})" if node is not None else "not in the scenario"
        raise self.fail(i, f"{here} is {what}: it has no '{token}'")

    def model_field(self, cursor: _Cursor, token: str | int, i: int, annotation: type[BaseModel]) -> list[_Cursor]:
        node = cursor.node
        if isinstance(node, str) and "name" in annotation.model_fields:  # `segments: [smb, mid]` shorthand
            cursor.parent[cursor.key] = node = {"name": node}
        fields = list(annotation.model_fields)
        if token == WILDCARD:
            present = [f for f in fields if isinstance(node, dict) and f in node]
            return [cursor.child(f, annotation.model_fields[f].annotation) for f in present]
        if token not in fields:
            here = _show(self.tokens[:i]) or "the scenario"
            raise self.fail(i, f"{here} has no field '{token}' (its fields: {', '.join(fields)})", token, fields)
        if node is not None and not isinstance(node, dict):
            raise self.fail(i, f"{_show(self.tokens[:i])} is not a mapping: it has no '{token}'")
        return [cursor.child(token, annotation.model_fields[str(token)].annotation)]

    def list_item(self, cursor: _Cursor, token: str | int, i: int, annotation: Any) -> list[_Cursor]:
        here = _show(self.tokens[:i])
        node = cursor.node
        if node is None:
            raise self.fail(i, f"{here} is not in the scenario (items of a list cannot be created by a path; "
                               "write them in the file)")
        args = get_args(annotation)
        item_annotation = args[0] if args else Any
        names = [item.get("name") if isinstance(item, dict) else item if isinstance(item, str) else None
                 for item in node]
        if token == WILDCARD:
            return [cursor.child(j, item_annotation, names[j] or str(j)) for j in range(len(node))]
        if isinstance(token, int):
            if not -len(node) <= token < len(node):
                raise self.fail(i, f"{here} has {len(node)} item(s): positions 0 to {len(node) - 1}, not {token}")
            index = token % len(node)
        elif token in names:
            index = names.index(token)
        else:
            known = [n for n in names if n is not None]
            if not known:
                raise self.fail(i, f"the items of {here} have no names: give a position, e.g. {here}[0] "
                                   f"(0 to {len(node) - 1})")
            raise self.fail(i, f"{here} has no item named '{token}' (its items: {', '.join(map(str, known))})",
                            token, known)
        return [cursor.child(index, item_annotation, names[index] or str(index))]

    def mapping_entry(self, cursor: _Cursor, token: str | int, i: int, annotation: Any) -> list[_Cursor]:
        here = _show(self.tokens[:i])
        node = cursor.node if isinstance(cursor.node, dict) else {}
        args = get_args(annotation) if get_origin(annotation) is dict else ()
        value_annotation = args[1] if len(args) == 2 else Any
        if token == WILDCARD:
            return [cursor.child(k, value_annotation) for k in list(node)]
        key = _existing_key(node, token)
        if key is not None:
            return [cursor.child(key, value_annotation)]
        choices = self.free_key_choices(cursor.loc)
        if choices is not None and str(token) not in choices:
            listed = ", ".join(choices) if choices else "none"
            raise self.fail(i, f"{here} has no entry '{token}' (possible entries: {listed})", token,
                            [*map(str, node), *choices])
        return [cursor.child(str(token), value_annotation)]

    def free_key_choices(self, loc: tuple[str | int, ...]) -> list[str] | None:
        """The names that may key the mapping at ``loc`` (None: any key, checked by validation)."""
        model = self.model
        last = loc[-1] if loc else None
        if last in ("by_segment", "segment_mix"):
            return model.segment_names
        if last == "channel_spend":
            return model.channel_names
        if last == "open_at_start":
            return model.stage_names[:-1]
        if len(loc) >= 2 and loc[-2] == "open_at_start":
            return model.segment_names
        return None

    def segment_block(self, cursor: _Cursor, token: str | int, i: int) -> list[_Cursor]:
        block = str(cursor.loc[0])
        settings = SEGMENT_BLOCKS[block]
        fields = list(settings.model_fields)
        segments = self.model.segment_names
        node = cursor.node
        if node is not None and not isinstance(node, dict):
            raise self.fail(i, f"{block} is not a mapping: it has no '{token}'")
        flat = bool(node) and all(k in fields for k in node)
        keyed = bool(node) and not flat
        if token == WILDCARD:
            if keyed:
                return [cursor.child(k, settings) for k in list(node)]
            return [_Cursor(cursor.parent, cursor.key, cursor.loc, cursor.named, settings)]
        if token in fields:
            if keyed:
                entries = ", ".join(map(str, node))
                raise self.fail(i, f"{block} is written per segment ({entries}), so its values are named with "
                                   f"their segment: {block}.{next(iter(node))}.{token}, or {block}.*.{token} for "
                                   "every entry")
            return [cursor.child(token, settings.model_fields[str(token)].annotation)]
        if token in (*segments, DEFAULT_KEY):
            if flat:
                raise self.fail(i, f"{block} is written once for every segment, so its values have no segment "
                                   f"in their path ({block}.{fields[0]}, {block}.{fields[-1]}...); to give "
                                   f"'{token}' its own {block}, write the block per segment in the file")
            node = cursor.materialise()
            if token not in node:
                if not node and token != DEFAULT_KEY:
                    node[DEFAULT_KEY] = {}  # the block was left out: the other segments keep its defaults
                node[token] = copy.deepcopy(node.get(DEFAULT_KEY, {}))
            return [cursor.child(token, settings)]
        choices = [*segments, DEFAULT_KEY, *fields]
        raise self.fail(i, f"{block} has no '{token}': expected a segment ({', '.join(segments)}), "
                           f"'{DEFAULT_KEY}' or one of its fields ({', '.join(fields)})", token, choices)


def _existing_key(node: dict[Any, Any], token: str | int) -> Any:
    if token in node:
        return token
    if isinstance(token, int) and str(token) in node:
        return str(token)
    if isinstance(token, str) and token.isdigit() and int(token) in node:
        return int(token)
    return None


def resolve(data: dict[str, Any], model: Scenario, path: str | Sequence[str | int]) -> list[ResolvedPath]:
    """Every place ``path`` names in ``data`` (several with ``*``).

    The walk may add to ``data`` what the path needs and the schema allows (an empty block, a segment's
    entry copied from ``default``): pass a copy when ``data`` must stay as it is.

    Raises
    ------
    PathError
        When the path names nothing, with the corrected path when a name at the failing level is close.
    """
    tokens = parse_path(path) if isinstance(path, str) else list(path)
    return _Walk(data, model, tokens).run()


# ---------------------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------------------


def parse_value(text: str) -> Any:
    """Read a value written as in a scenario file (``0.32``, ``[0.01, 0.02]``, ``12k``,
    ``{dist: beta, mean: 0.3, sd: 0.02}``) with the project's safe YAML reader.

    Raises
    ------
    ValueError
        When the text is not a YAML value.
    """
    from revsim.scenario.yaml_source import parse_yaml_text

    body = str(text)
    if "\n" in body:
        body = "\n" + "\n".join("  " + line for line in body.splitlines())
    try:
        document = parse_yaml_text(f"value: {body}\n", file="--set")
    except InputError as exc:
        reason = exc.problems[0].message if exc.problems else str(exc)
        raise ValueError(f"could not read '{text}' as a value ({reason}); write it as in the scenario file, "
                         "e.g. 0.32, [0.01, 0.02], 12k or {dist: beta, mean: 0.3, sd: 0.02}") from None
    return document.data.get("value")


def parse_assignment(text: str) -> tuple[str, Any]:
    """``PATH=VALUE`` -> (path, parsed value).

    Raises
    ------
    ValueError
        Without ``=``, with an empty path, or with a value that is not YAML.
    """
    path, sep, value = str(text).partition("=")
    if not sep or not path.strip():
        raise ValueError(f"expected PATH=VALUE (e.g. funnel.stages.mql.conversion=0.32), got '{text}'")
    return path.strip(), parse_value(value.strip())


def constant_value(value: Any) -> float | None:
    """The number a file value stands for when it is a constant (a number or an amount), else None."""
    from revsim.scenario.distributions import parse_amount

    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return parse_amount(value)
    return None
