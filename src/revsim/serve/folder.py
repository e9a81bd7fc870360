"""The served scenario's folder: the page reads no file outside it, and writes only scenario files into it.

A scenario reads files through ``dist: empirical`` and ``dist: posterior`` inputs (``file:``). The file the
page serves may name any file, as on the command line; a change made through the page (a ``--set`` line) may
name only files inside the scenario's folder, checked before anything is read. Saved variants are plain
file names in the folder: no directory part, no ``..``, a ``.yaml`` or ``.yml`` suffix.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from revsim.scenario.load import LoadedScenario

__all__ = ["OutsideFolder", "ScenarioFolder"]

_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,120}\.ya?ml$")


class OutsideFolder(ValueError):
    """A path that leads outside the scenario's folder (HTTP 403)."""


@dataclass(frozen=True)
class ScenarioFolder:
    """The folder of the served scenario file."""

    root: Path

    @classmethod
    def of(cls, scenario_file: str | Path) -> ScenarioFolder:
        return cls(Path(scenario_file).resolve().parent)

    def contains(self, path: str | Path) -> bool:
        """Whether ``path`` (relative to the folder, or absolute), with every link followed, is inside it."""
        candidate = Path(path)
        resolved = (candidate if candidate.is_absolute() else self.root / candidate).resolve()
        return resolved == self.root or resolved.is_relative_to(self.root)

    def scenario_file(self, name: str) -> Path:
        """Where a scenario file named ``name`` is saved.

        Raises
        ------
        OutsideFolder
            For a name with a directory part, ``..``, a leading dot, or no ``.yaml``/``.yml`` suffix.
        """
        text = str(name).strip()
        if not _FILE_NAME.match(text) or ".." in text:
            raise OutsideFolder(f"'{name}' is not a scenario file name in the scenario's folder: write a plain name "
                                "ending in .yaml (letters, digits, '_', '-', '.'), without a folder")
        path = self.root / text
        if not self.contains(path):  # a link in the folder that points elsewhere
            raise OutsideFolder(f"'{name}' leads outside the scenario's folder")
        return path

    def check_overrides(self, scenario: LoadedScenario, overrides: Sequence[str], *, source: str = "--set") -> None:
        """Refuse ``--set`` lines that would make the scenario read a file outside the folder.

        The lines are applied to a copy of the data (nothing is validated or read); every ``file:`` of an
        input that the file itself does not name must then be inside the folder. Lines that do not parse
        or name nothing are left to :func:`~revsim.scenario.overrides.override_scenario`, which reports them.

        Raises
        ------
        OutsideFolder
            Naming the line and the file.
        """
        from revsim.scenario.overrides import PathError, parse_assignment, resolve

        known = set(_files(scenario.data))
        data = copy.deepcopy(scenario.data)
        for line in overrides:
            try:
                path, value = parse_assignment(line)
                targets = resolve(data, scenario.model, path)
            except (ValueError, PathError):
                continue
            for target in targets:
                target.set(copy.deepcopy(value))
            for name in _files(data):
                if name not in known and not self.contains(name):
                    raise OutsideFolder(f"{source} {line}: the page reads no file outside the scenario's folder "
                                        f"({self.root.name}/), and '{name}' is outside it")


def _files(data: Any) -> Iterator[str]:
    """Every ``file:`` named in a scenario's data."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "file" and isinstance(value, str | Path):
                yield str(value)
            else:
                yield from _files(value)
    elif isinstance(data, list):
        for item in data:
            yield from _files(item)
