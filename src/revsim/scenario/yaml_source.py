"""Read scenario files as YAML data, safely, remembering where every value sits.

A scenario file is data, never code: this module reads it with PyYAML's safe machinery only, turns the
composed node graph into plain Python values itself (dicts, lists, strings, numbers, booleans and None) and
refuses anything that could execute code, exhaust memory or silently change the meaning of the file:

* tags of any kind (``!!python/object``, ``!custom``, even ``!!str``);
* duplicate keys in a mapping (YAML parsers usually keep the last one without a word);
* keys that are lists or mappings, or empty;
* documents nested more than :data:`MAX_DEPTH` levels deep;
* documents that use aliases (``*name``) to grow large: more than :data:`MAX_ALIASES` aliases, more than
  :data:`MAX_COLLECTION_ALIASES` aliases to lists or mappings, recursive aliases, or aliases that would add
  more than :data:`MAX_ALIAS_EXPANSION` values (the "billion laughs" attack). These checks run on the
  composed graph, before anything is expanded, so they are fast and use little memory.

Scalars are resolved the way PyYAML's ``SafeLoader`` resolves them (YAML 1.1), with two exceptions:
timestamps such as ``2027-01-15`` stay strings (the scenario schema parses its own dates), and a plain
mapping key that YAML would read as a boolean, a float or a timestamp (``on:``, ``no:``, ``1.5:``) keeps the
text it was written as, so that keys are always strings or integers.

Every problem is raised as :class:`revsim.errors.InputError` naming the file and, where there is one, the
line and column.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from revsim.errors import InputError, Problem

__all__ = [
    "YamlDocument",
    "read_yaml_file",
    "parse_yaml_text",
    "MAX_DEPTH",
    "MAX_ALIASES",
    "MAX_COLLECTION_ALIASES",
    "MAX_ALIAS_EXPANSION",
]

#: Deepest nesting of lists and mappings allowed (the top-level mapping is level 1).
MAX_DEPTH = 50
#: Most aliases (``*name``) a document may use.
MAX_ALIASES = 100
#: Most aliases a document may use that refer to a list or a mapping.
MAX_COLLECTION_ALIASES = 20
#: Most values that aliases may add to a document once expanded.
MAX_ALIAS_EXPANSION = 100_000
#: Longest integer, in characters, that is converted (longer ones are refused, not computed).
MAX_INT_CHARS = 1_000

Path = tuple[str | int, ...]

_YAML_TAG_PREFIX = "tag:yaml.org,2002:"
_STR = _YAML_TAG_PREFIX + "str"
_INT = _YAML_TAG_PREFIX + "int"
_FLOAT = _YAML_TAG_PREFIX + "float"
_BOOL = _YAML_TAG_PREFIX + "bool"
_NULL = _YAML_TAG_PREFIX + "null"
_MERGE = _YAML_TAG_PREFIX + "merge"
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True)
class YamlDocument:
    """A scenario file read as plain data, with the position of every value in it.

    Attributes
    ----------
    data
        The document as plain Python: dicts, lists, ``str``, ``int``, ``float``, ``bool`` and None. The top
        level is always a dict.
    locations
        For every path into ``data`` (a tuple of mapping keys and list indexes; the root is ``()``), the
        1-based ``(line, column)`` where that value starts in the file. A value reached through an alias
        is located at the alias; the values inside it at the anchored original.
    file
        The file name as the user gave it, for messages.
    text
        The decoded text of the file (without a byte order mark), e.g. for hashing.
    """

    data: Any
    locations: dict[tuple[str | int, ...], tuple[int, int]]
    file: str
    text: str

    def locate(self, path: Sequence[str | int]) -> tuple[int | None, int | None]:
        """Return the line and column of ``path``, or of its deepest prefix that has a location.

        Parameters
        ----------
        path
            Mapping keys and list indexes leading to a value, e.g. ``("funnel", "stages", 2)``. The path
            need not exist: a missing field is located at the nearest enclosing value that does.

        Returns
        -------
        tuple
            ``(line, column)``, 1-based, or ``(None, None)`` when nothing on the path has a location.
        """
        parts = tuple(path)
        for end in range(len(parts), -1, -1):
            found = self.locations.get(parts[:end])
            if found is not None:
                return found
        return None, None


def read_yaml_file(path: str | os.PathLike[str], *, max_bytes: int = 5_000_000) -> YamlDocument:
    """Read and parse a scenario file.

    Parameters
    ----------
    path
        The file to read. It is named in messages as given.
    max_bytes
        Larger files are refused without being read in full.

    Returns
    -------
    YamlDocument
        The file's data, the position of each value and the decoded text.

    Raises
    ------
    InputError
        When the file cannot be read, is not UTF-8, is not valid YAML, is empty, is not a mapping at the
        top level, or breaks one of the rules in this module's description.
    """
    try:
        name = os.fspath(path)
    except TypeError:
        raise InputError.single(f"expected a file name, got {type(path).__name__}") from None
    if isinstance(name, bytes):
        name = os.fsdecode(name)
    raw = _read_bytes(name, max_bytes)
    text = _decode(raw, name)
    return parse_yaml_text(text, file=name)


def parse_yaml_text(text: str, *, file: str = "<string>") -> YamlDocument:
    """Parse scenario YAML held in a string.

    Parameters
    ----------
    text
        The YAML text.
    file
        The name to use for the text in messages.

    Returns
    -------
    YamlDocument
        The data, the position of each value and ``text`` itself.

    Raises
    ------
    InputError
        When the text is not valid YAML, is empty, is not a mapping at the top level, or breaks one of the
        rules in this module's description.
    """
    root = _compose(text, file)
    if root is None or (isinstance(root, ScalarNode) and root.tag == _NULL):
        raise InputError.single("the file is empty: expected a scenario mapping", file=file)
    if not isinstance(root, MappingNode):
        line, column = _position(root)
        raise InputError.single(
            f"expected a mapping at the top level, found {_describe(root)}",
            file=file,
            line=line,
            column=column,
        )
    _check_expansion(root, file)
    builder = _Builder(file)
    data = builder.build(root, ())
    if builder.problems:
        raise InputError(builder.problems, file=file)
    return YamlDocument(data=data, locations=builder.locations, file=file, text=text)


# --------------------------------------------------------------------------------------------- reading


def _read_bytes(name: str, max_bytes: int) -> bytes:
    """Read at most ``max_bytes`` of a file, turning every failure into an :class:`InputError`."""
    from revsim.special_files import special_kind

    try:
        if os.path.isdir(name):
            raise InputError.single("is a directory, expected a YAML file", file=name)
        kind = special_kind(name)
        if kind is not None:  # opening a FIFO would wait for a writer forever
            raise InputError.single(f"is {kind}, not a regular file; expected a YAML file", file=name)
        with open(name, "rb") as handle:
            raw = handle.read(max_bytes + 1)
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError.single("file not found", file=name) from None
    except IsADirectoryError:
        raise InputError.single("is a directory, expected a YAML file", file=name) from None
    except PermissionError:
        raise InputError.single(
            "permission denied: the file cannot be read (check its permissions)", file=name
        ) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputError.single(f"the file cannot be read: {reason}", file=name) from None
    except ValueError as exc:  # e.g. a NUL character in the name
        raise InputError.single(f"invalid file name: {exc}", file=name) from None
    if len(raw) > max_bytes:
        raise InputError.single(
            f"the file is larger than the limit of {max_bytes:,} bytes for a scenario file; refusing to read it",
            file=name,
        )
    return raw


def _decode(raw: bytes, name: str) -> str:
    """Decode UTF-8 (with or without a byte order mark), explaining any other encoding helpfully."""
    if raw.startswith(_UTF8_BOM):
        raw = raw[len(_UTF8_BOM) :]
    elif raw.startswith(_UTF16_BOMS):
        raise InputError.single(
            "the file is encoded as UTF-16, not UTF-8; save the file as UTF-8", file=name, line=1, column=1
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start
        line = raw.count(b"\n", 0, offset) + 1
        line_start = raw.rfind(b"\n", 0, offset) + 1
        prefix = raw[line_start:offset]
        column = len(prefix.decode("utf-8", errors="replace")) + 1
        message = (
            f"the file is not valid UTF-8: byte 0x{raw[offset]:02x} at byte offset {offset} cannot be decoded"
        )
        guess = _guess_legacy_text(raw, line_start)
        if guess:
            message += f"; it looks like Windows-1252/Latin-1 text ({guess!r})"
        message += "; save the file as UTF-8"
        raise InputError.single(message, file=name, line=line, column=column) from None


def _guess_legacy_text(raw: bytes, line_start: int) -> str | None:
    """The offending line decoded as cp1252 (or latin-1), shortened, to show the user what went wrong."""
    line_end = raw.find(b"\n", line_start)
    chunk = raw[line_start : line_end if line_end >= 0 else len(raw)][:200]
    for encoding in ("cp1252", "latin-1"):
        try:
            guess = chunk.decode(encoding).strip()
        except UnicodeDecodeError:
            continue
        if len(guess) > 60:
            guess = guess[:57] + "..."
        return guess or None
    return None


# ------------------------------------------------------------------------------------------- composing


@dataclass(frozen=True)
class _AliasRef:
    """An alias in the composed graph: what it refers to, and where the alias itself was written."""

    target: Node
    start_mark: Any


class _SafeComposer(yaml.SafeLoader):
    """A SafeLoader that only composes, refusing tags, deep nesting and alias abuse as it goes.

    Aliases are returned as :class:`_AliasRef` (not as the anchored node itself) so that the position of
    the alias is kept. Nothing is ever constructed by this class.
    """

    def __init__(self, text: str, file: str) -> None:
        super().__init__(text)
        self.file = file
        self.depth = 0
        self.alias_count = 0
        self.collection_alias_count = 0

    def compose_node(self, parent: Node | None, index: Any) -> Any:  # type: ignore[override]
        if self.check_event(AliasEvent):
            event = self.get_event()
            target = self.anchors.get(event.anchor)
            if target is None:
                self._refuse(f"the alias '*{event.anchor}' refers to no anchor '&{event.anchor}' before it", event)
            self.alias_count += 1
            if self.alias_count > MAX_ALIASES:
                self._refuse(f"too many aliases: a scenario file may use at most {MAX_ALIASES}", event)
            if isinstance(target, MappingNode | SequenceNode):
                self.collection_alias_count += 1
                if self.collection_alias_count > MAX_COLLECTION_ALIASES:
                    self._refuse(
                        "too many aliases to lists or mappings: a scenario file may use at most "
                        f"{MAX_COLLECTION_ALIASES} (this protects against documents that expand enormously)",
                        event,
                    )
            return _AliasRef(target, event.start_mark)
        event = self.peek_event()
        tag = getattr(event, "tag", None)
        if tag is not None:
            self._refuse(f"tags are not allowed in scenario files (found '{_short_tag(tag)}')", event)
        if isinstance(event, MappingStartEvent | SequenceStartEvent):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                self._refuse(f"nested too deeply: at most {MAX_DEPTH} levels of lists and mappings", event)
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1
        return super().compose_node(parent, index)

    def _refuse(self, message: str, event: Any) -> NoReturn:
        mark = event.start_mark
        raise InputError.single(message, file=self.file, line=mark.line + 1, column=mark.column + 1)


def _short_tag(tag: str) -> str:
    """Write a tag the way it appears in YAML: ``!!python/object`` rather than its full URI."""
    if tag.startswith(_YAML_TAG_PREFIX):
        return "!!" + tag[len(_YAML_TAG_PREFIX) :]
    return tag


def _compose(text: str, file: str) -> Node | None:
    """Compose the single document in ``text`` into a node graph (None for an empty stream)."""
    try:
        loader = _SafeComposer(text, file)
    except yaml.reader.ReaderError as exc:  # PyYAML checks every character when given a string
        raise _character_error(exc, text, file) from None
    try:
        return loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, file) from None
    except yaml.YAMLError as exc:
        raise InputError.single(f"YAML error: {exc}", file=file) from None
    except RecursionError:
        raise InputError.single(
            f"nested too deeply: at most {MAX_DEPTH} levels of lists and mappings", file=file
        ) from None
    finally:
        loader.dispose()


def _character_error(exc: yaml.reader.ReaderError, text: str, file: str) -> InputError:
    """Explain a character YAML does not accept (a control character, say), with its position."""
    position = exc.position if isinstance(exc.position, int) else 0
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    character = exc.character if isinstance(exc.character, int) else 0
    return InputError.single(
        f"the file contains a character that YAML does not allow: #x{character:04x} ({exc.reason})",
        file=file,
        line=line,
        column=column,
    )


def _syntax_error(exc: yaml.MarkedYAMLError, file: str) -> InputError:
    """Turn a PyYAML error into a message a scenario author can act on."""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    column = mark.column + 1 if mark is not None else None
    problem = exc.problem or exc.context or "invalid YAML"
    if mark is not None and _is_tab_error(exc, mark):
        if _tab_in_indentation(mark):
            message = "tab characters are not allowed for indentation in YAML; use spaces"
        else:
            message = "a tab character is not allowed here in YAML; use spaces"
    elif exc.context == "expected a single document in the stream":
        message = "the file holds more than one YAML document ('---'); a scenario file holds exactly one"
    else:
        message = f"YAML syntax error: {problem}"
        context_mark = exc.context_mark
        if exc.context and context_mark is not None and context_mark is not mark:
            message += f" ({exc.context} at line {context_mark.line + 1}, column {context_mark.column + 1})"
        elif exc.context:
            message += f" ({exc.context})"
    return InputError([Problem(message, (), line, column)], file=file)


def _is_tab_error(exc: yaml.MarkedYAMLError, mark: Any) -> bool:
    buffer = getattr(mark, "buffer", None)
    pointer = getattr(mark, "pointer", None)
    if isinstance(buffer, str) and isinstance(pointer, int) and 0 <= pointer < len(buffer):
        if buffer[pointer] == "\t":
            return True
    return "'\\t'" in (exc.problem or "")


def _tab_in_indentation(mark: Any) -> bool:
    """Whether the tab at ``mark`` is part of the leading whitespace of its line."""
    buffer = getattr(mark, "buffer", None)
    pointer = getattr(mark, "pointer", None)
    if not isinstance(buffer, str) or not isinstance(pointer, int):
        return True
    start = max(buffer.rfind("\n", 0, pointer), buffer.rfind("\r", 0, pointer)) + 1
    return buffer[start:pointer].strip(" \t") == ""


# --------------------------------------------------------------------------------------------- checking


def _check_expansion(root: Node, file: str) -> None:
    """Refuse recursive aliases, too deep nesting and documents that aliases would blow up.

    Works on the composed graph with memoised sizes, so a document that would expand to billions of values
    is measured in time proportional to its text, never expanded.
    """
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded values, levels of nesting)
    on_path: set[int] = set()
    unique: set[int] = set()

    def measure(item: Any, depth: int) -> tuple[int, int]:
        node = item.target if isinstance(item, _AliasRef) else item
        if isinstance(node, ScalarNode):
            unique.add(id(node))
            return 1, 0
        key = id(node)
        if key in on_path:
            line, column = _position(item)
            raise InputError.single(
                "an alias refers to a list or mapping that contains it (a recursive structure)",
                file=file,
                line=line,
                column=column,
            )
        known = sizes.get(key)
        if known is None:
            if depth > MAX_DEPTH:
                _too_deep(item, file)
            unique.add(key)
            on_path.add(key)
            size, levels = 1, 0
            children = (
                [part for pair in node.value for part in pair] if isinstance(node, MappingNode) else node.value
            )
            for child in children:
                child_size, child_levels = measure(child, depth + 1)
                size += child_size
                levels = max(levels, child_levels)
            on_path.discard(key)
            known = sizes[key] = (size, levels + 1)
        if depth + known[1] - 1 > MAX_DEPTH:
            _too_deep(item, file)
        return known

    total, _ = measure(root, 1)
    if total - len(unique) > MAX_ALIAS_EXPANSION:
        raise InputError.single(
            f"aliases would expand this document by {total - len(unique):,} values; at most "
            f"{MAX_ALIAS_EXPANSION:,} are allowed (this protects against documents that expand enormously)",
            file=file,
        )


def _too_deep(item: Any, file: str) -> NoReturn:
    line, column = _position(item)
    raise InputError.single(
        f"nested too deeply: at most {MAX_DEPTH} levels of lists and mappings (counting what aliases expand to)",
        file=file,
        line=line,
        column=column,
    )


# --------------------------------------------------------------------------------------------- building


class _Builder:
    """Turn a checked node graph into plain Python data, recording the position of every value."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.locations: dict[Path, tuple[int, int]] = {}
        self.problems: list[Problem] = []
        self._seen: set[tuple[str, int | None, int | None]] = set()
        self._constructor = SafeConstructor()

    def problem(self, message: str, path: Path, at: Any) -> None:
        line, column = _position(at)
        if (message, line, column) not in self._seen:  # an aliased mapping reports its problems once
            self._seen.add((message, line, column))
            self.problems.append(Problem(message, path, line, column))

    def build(self, item: Any, path: Path) -> Any:
        line, column = _position(item)
        if line is not None and column is not None:
            self.locations[path] = (line, column)
        node = item.target if isinstance(item, _AliasRef) else item
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(child, (*path, index)) for index, child in enumerate(node.value)]
        return self._scalar(node, path)

    def _mapping(self, node: MappingNode, path: Path) -> dict[str | int, Any]:
        result: dict[str | int, Any] = {}
        first_seen: dict[str | int, Any] = {}
        for key_item, value_item in node.value:
            key = self._key(key_item, path)
            if key is None:
                continue
            if key in first_seen:
                first_line, first_column = _position(first_seen[key])
                again_line, again_column = _position(key_item)
                where = f"first on line {first_line}, again on line {again_line}"
                if first_line == again_line:
                    where = f"first on line {first_line} column {first_column}, again at column {again_column}"
                self.problem(
                    f"duplicate key '{key}' ({where}); each key may appear only once in a mapping",
                    path,
                    key_item,
                )
                continue
            first_seen[key] = key_item
            result[key] = self.build(value_item, (*path, key))
        return result

    def _key(self, item: Any, path: Path) -> str | int | None:
        node = item.target if isinstance(item, _AliasRef) else item
        if isinstance(node, MappingNode | SequenceNode):
            self.problem(
                f"keys must be strings or integers, found {_describe(node)} used as a key", path, item
            )
            return None
        if node.tag == _MERGE:
            self.problem("merge keys ('<<') are not supported in scenario files; write the keys out", path, item)
            return None
        if node.tag == _NULL:
            self.problem("keys must be strings or integers, found an empty (null) key", path, item)
            return None
        if node.tag == _INT:
            value = self._scalar(node, path)
            return value if isinstance(value, int) else None
        # Strings, and plain keys YAML would read as booleans, floats or dates, keep their text.
        return str(node.value)

    def _scalar(self, node: ScalarNode, path: Path) -> Any:
        tag = node.tag
        try:
            if tag == _NULL:
                return None
            if tag == _BOOL:
                return self._constructor.construct_yaml_bool(node)
            if tag == _INT:
                if len(node.value) > MAX_INT_CHARS:
                    self.problem(f"integer too long (more than {MAX_INT_CHARS} characters)", path, node)
                    return None
                return self._constructor.construct_yaml_int(node)
            if tag == _FLOAT:
                return self._constructor.construct_yaml_float(node)
        except (ValueError, ArithmeticError) as exc:
            self.problem(f"cannot read the number {node.value[:40]!r}: {exc}", path, node)
            return None
        # Strings; timestamps, '=' and '<<' used as values keep the text they were written as.
        return str(node.value)


# ------------------------------------------------------------------------------------------------ helpers


def _position(item: Any) -> tuple[int | None, int | None]:
    """1-based line and column where a node (or an alias) starts."""
    mark = getattr(item, "start_mark", None)
    if mark is None:
        return None, None
    return mark.line + 1, mark.column + 1


def _describe(node: Any) -> str:
    """Name the kind of a node for messages: 'a list', 'a mapping', 'a string ('abc')', ..."""
    if isinstance(node, _AliasRef):
        node = node.target
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    text = str(node.value)
    shown = text if len(text) <= 40 else text[:37] + "..."
    kinds = {_INT: "a number", _FLOAT: "a number", _BOOL: "a true/false value", _NULL: "nothing (null)"}
    kind = kinds.get(node.tag, "a string")
    return kind if node.tag == _NULL else f"{kind} ({shown!r})"
