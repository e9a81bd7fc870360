"""How a lever's ``change`` is written, and what it means: relative, additive or absolute.

The explicit forms say what they do whatever YAML makes of a sign::

    change: {scale: -20%}       # relative: the value times 0.8 (a percentage; "+10%" or "10%" for x 1.1)
    change: {add: 0.03}         # additive: the value plus 0.03 (a number or amount: -0.5, 5k)
    change: {set: 0.32}         # absolute: the value replaced (a number, amount, interval or dist: mapping)

and so do quoted texts with their sign: ``"+10%"``, ``"-20%"`` (relative), ``"+0.03"``, ``"-5k"`` (additive),
``"=0.32"`` (absolute). An unsigned number, amount, interval or ``dist:`` mapping is an absolute value.

An unquoted ``+0.03`` is read by YAML as the number 0.03, which would silently be an absolute value; an
unquoted ``-0.5`` is a number whose meaning hangs on its sign. Files written that way are still read as they
always were (the loader recovers the ``+`` from the file's text, :func:`explicit_change_signs`), with a note
giving the explicit form to write instead.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from revsim.scenario.distributions import parse_amount

if TYPE_CHECKING:  # pragma: no cover
    from revsim.scenario.yaml_source import YamlDocument

__all__ = ["RELATIVE", "ADDITIVE", "ABSOLUTE", "EXPLICIT_KEYS", "Change", "parse_change", "parse_setting",
           "explicit_change_signs", "lever_items"]

RELATIVE = "relative"
ADDITIVE = "additive"
ABSOLUTE = "absolute"
#: The keys of the explicit form, and the kind of change each writes.
EXPLICIT_KEYS = {"scale": RELATIVE, "add": ADDITIVE, "set": ABSOLUTE}

_EXPECTED = ("expected {scale: -20%}, {add: 0.03}, {set: 0.32}, a quoted signed change (\"+10%\", \"-0.5\") or a "
             "value (0.32, 14, [0.3, 0.36], {dist: ...})")


@dataclass(frozen=True)
class Change:
    """A lever's change: ``kind`` is relative, additive or absolute.

    ``amount`` is the relative change as a fraction (-0.2 for ``-20%``), the amount added, or the absolute
    number; ``value`` is set instead for an absolute change to a whole uncertain input.
    """

    kind: str
    amount: float | None = None
    value: Any = None

    @property
    def numeric(self) -> bool:
        return self.amount is not None

    def describe(self) -> str:
        """As a user would write it: ``+10%``, ``-0.03``, ``= 14``."""
        if self.kind == RELATIVE:
            return f"{self.amount * 100:+.6g}%"
        if self.kind == ADDITIVE:
            return f"{self.amount:+.6g}"
        if self.amount is not None:
            return f"= {self.amount:.6g}"
        return f"= {self.value}"

    def explicit(self) -> dict[str, Any]:
        """The explicit form of the change, as a file would hold it: ``{"scale": "-20%"}``, ``{"add": 0.03}``."""
        if self.kind == RELATIVE:
            return {"scale": f"{self.amount * 100:+.6g}%"}
        if self.kind == ADDITIVE:
            return {"add": self.amount}
        return {"set": self.amount if self.amount is not None else copy.deepcopy(self.value)}

    def at(self, setting: float) -> Change:
        """The same kind of change with amount ``setting``."""
        return Change(self.kind, float(setting))

    def describe_setting(self, setting: float) -> str:
        """A setting in this change's unit: ``-13.2%``, ``+0.012``, ``14.5``."""
        if self.kind == RELATIVE:
            return f"{setting * 100:+.4g}%"
        if self.kind == ADDITIVE:
            return f"{setting:+.4g}"
        return f"{setting:.4g}"


def _number_text(text: str) -> float | None:
    value = parse_amount(text)
    return value if value is not None and math.isfinite(value) else None


def _explicit(value: Mapping[str, Any]) -> Change:
    """``{scale: ...}``, ``{add: ...}`` or ``{set: ...}``."""
    (key, amount), = value.items()
    kind = EXPLICIT_KEYS[key]
    if kind == ABSOLUTE:
        if isinstance(amount, list | tuple | Mapping):
            return Change(ABSOLUTE, None, copy.deepcopy(amount))
        number = _finite(amount)
        if number is None:
            raise ValueError(f"set: expected a number, an amount (14, 5k), an interval or a dist: mapping, got "
                             f"{amount!r}")
        return Change(ABSOLUTE, number)
    if kind == RELATIVE:
        text = str(amount).strip() if isinstance(amount, str) else None
        number = _number_text(text[:-1]) if text and text.endswith("%") else None
        if number is None:
            raise ValueError(f"scale: expected a percentage change (-20%, +10%), got {amount!r}")
        return Change(RELATIVE, number / 100.0)
    number = _finite(amount)
    if number is None:
        raise ValueError(f"add: expected a number or an amount (0.03, -0.5, 5k), got {amount!r}")
    return Change(ADDITIVE, number)


def _finite(value: Any) -> float | None:
    """A finite number from a number or an amount text (``5k``), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    return _number_text(str(value).strip()) if isinstance(value, str) else None


def parse_change(value: Any) -> Change:
    """Read a lever's ``change`` (see the module's description).

    Raises
    ------
    ValueError
        With what was expected.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{_EXPECTED}, got {value!r}")
    if isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in EXPLICIT_KEYS:
        return _explicit(value)
    if isinstance(value, Mapping) and set(value) & set(EXPLICIT_KEYS):
        raise ValueError(f"write one of scale:, add: or set: alone, got {', '.join(map(str, value))}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"{_EXPECTED}, got {value!r}")
        # YAML reads -0.5 as a number: a sign means a change (the loader restores a + sign from the text)
        return Change(ADDITIVE, float(value)) if value < 0 else Change(ABSOLUTE, float(value))
    if isinstance(value, list | tuple | Mapping):
        return Change(ABSOLUTE, None, copy.deepcopy(value))
    if not isinstance(value, str):
        raise ValueError(f"{_EXPECTED}, got {type(value).__name__}")
    text = value.strip()
    if text.startswith("="):
        number = _number_text(text[1:])
        if number is None:
            raise ValueError(f"{_EXPECTED}, got '{value}'")
        return Change(ABSOLUTE, number)
    if text.endswith("%"):
        number = _number_text(text[:-1])
        if number is None:
            raise ValueError(f"{_EXPECTED}, got '{value}'")
        if text[:1] not in "+-":
            raise ValueError(f"'{value}' is ambiguous: write scale: {text} for a relative change, or "
                             f"set: {number / 100:g} for the value itself")
        return Change(RELATIVE, number / 100.0)
    number = _number_text(text)
    if number is None:
        raise ValueError(f"{_EXPECTED}, got '{value}'")
    return Change(ADDITIVE, number) if text[:1] in "+-" else Change(ABSOLUTE, number)


def parse_setting(value: Any) -> float:
    """A lever setting as written in a ``range``: a number, an amount (``5k``) or a percentage (``-60%``)."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected a number or a percentage, got {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {value!r}")
        return float(value)
    text = str(value).strip()
    if text.endswith("%"):
        number = _number_text(text[:-1])
        if number is not None:
            return number / 100.0
    else:
        number = _number_text(text.lstrip("="))
        if number is not None:
            return number
    raise ValueError(f"expected a number or a percentage (5k, -60%), got '{value}'")


def lever_items(levers: Any) -> Iterable[tuple[Any, Any]]:
    """``(key, definition)`` of each lever, whether ``levers:`` is a list or a mapping of names."""
    if isinstance(levers, Mapping):
        return list(levers.items())
    if isinstance(levers, list):
        return list(enumerate(levers))
    return []


def explicit_change_signs(document: YamlDocument, data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``data`` with each lever's unquoted ``change: +0.03`` as the text ``"+0.03"`` (YAML reads the number 0.03,
    which would be an absolute value instead of an additive change), and a note for every change whose meaning
    hangs on an unquoted sign, giving its explicit form."""
    levers = data.get("levers")
    if not document.text or not isinstance(levers, list | dict):  # (scenarios built in Python have no text)
        return data, []
    lines = document.text.splitlines()
    changed = copy.copy(levers)
    notes = []
    for key, item in lever_items(levers):
        value = item.get("change") if isinstance(item, dict) else None
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        line, column = document.locations.get(("levers", key, "change"), (None, None))
        token = None
        if line is not None and 0 < line <= len(lines):
            token = re.match(r"\+[^\s,}\]#]+", lines[line - 1][(column or 1) - 1:])
        if token:
            changed[key] = {**item, "change": token.group(0)}
        if token or value < 0:
            where = f"line {line}" if line else "levers"
            name = item.get("name", key)
            written = token.group(0) if token else f"{value:g}"
            notes.append(f"{where}: lever '{name}' change: {written} is read as an additive change; write it "
                         f"'change: {{add: {value:g}}}' (or quoted, \"{written}\"): the meaning of an unquoted "
                         "number should not hang on its sign")
    return ({**data, "levers": changed} if changed != levers else data), notes
