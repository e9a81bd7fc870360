"""Samples read from files: ``empirical`` (a CSV column) and ``posterior`` (draws of a netCDF posterior),
drawn as ``sample * scale + shift``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from revsim.errors import InputError
from revsim.scenario.distributions.base import (
    Distribution,
    _describe_type,
    _fail,
    _fmt,
    _number,
    _with_hint,
)

#: Largest CSV file an ``empirical`` distribution may read.
EMPIRICAL_MAX_BYTES = 50 * 1024 * 1024
#: Largest netCDF file a ``posterior`` distribution may read.
POSTERIOR_MAX_BYTES = 500 * 1024 * 1024


def _frozen_samples(values: np.ndarray) -> np.ndarray:
    samples = np.array(values, dtype=np.float64).reshape(-1)
    samples.flags.writeable = False
    return samples


class _Samples(Distribution):
    """Values read from a file, drawn as ``sample * scale + shift``.

    ``samples`` are the file's values as read; ``values`` the values drawn. ``shift`` and ``scale`` (0 and 1
    unless a scenario or a lever says otherwise) move and stretch every sample, which keeps the samples' order
    and, for a posterior, which sample each draw takes.
    """

    samples: np.ndarray
    shift: float
    scale: float

    def _transform(self) -> None:
        object.__setattr__(self, "samples", _frozen_samples(self.samples))
        values = self.samples if self.is_unchanged else self.samples * float(self.scale) + float(self.shift)
        object.__setattr__(self, "_values", _frozen_samples(values))

    @property
    def values(self) -> np.ndarray:
        """The values drawn: every sample times ``scale`` plus ``shift``."""
        return self._values  # type: ignore[attr-defined, no-any-return]

    @property
    def is_unchanged(self) -> bool:
        return float(self.shift) == 0.0 and float(self.scale) == 1.0

    def mean(self) -> float:
        return float(np.mean(self.values))

    def support(self) -> tuple[float, float]:
        return float(self.values.min()), float(self.values.max())

    def transform_text(self) -> str:
        """``""``, or how the samples are changed: ``" scaled by 1.1 and shifted by +0.03"``."""
        parts = []
        if float(self.scale) != 1.0:
            parts.append(f"scaled by {_fmt(self.scale, 6)}")
        if float(self.shift) != 0.0:
            parts.append(f"shifted by {'-' if self.shift < 0 else '+'}{_fmt(abs(self.shift), 6)}")
        return (" " + " and ".join(parts)) if parts else ""


@dataclass(frozen=True, eq=False)
class Empirical(_Samples):
    """The empirical distribution of observed values (quantiles are actual observations, shifted and scaled)."""

    samples: np.ndarray = field(repr=False)
    source: str = ""
    column: str = ""
    notes: tuple[str, ...] = ()
    path: str = field(default="", repr=False)
    shift: float = 0.0
    scale: float = 1.0
    kind = "empirical"

    def __post_init__(self) -> None:
        self._transform()

    def ppf(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=np.float64)
        return np.asarray(np.quantile(self.values, u, method="inverted_cdf"), dtype=np.float64)

    def describe(self) -> str:
        return f"empirical({self.source}, column={self.column}, n={self.samples.size}){self.transform_text()}"


@dataclass(frozen=True, eq=False)
class Posterior(_Samples):
    """Posterior samples of one variable (stacked over chain and draw), drawn jointly per file.

    ``ppf(u)`` is the value at index ``floor(u * n)``: the samples are *not* sorted, so that all inputs of
    one ``group`` (one file) evaluated at the same uniform come from the same posterior draw, keeping the
    posterior's dependence between variables. ``shift`` and ``scale`` change the value, not the index.
    """

    samples: np.ndarray = field(repr=False)
    source: str = ""
    var: str = ""
    coords: tuple[tuple[str, Any], ...] = ()
    group: str | None = None
    path: str = field(default="", repr=False)
    shift: float = 0.0
    scale: float = 1.0
    kind = "posterior"

    def __post_init__(self) -> None:
        self._transform()

    def ppf(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=np.float64)
        n = self.values.size
        index = np.clip(np.floor(u * n).astype(np.int64), 0, n - 1)
        return self.values[index]

    def describe(self) -> str:
        sel = ", ".join(f"{k}={v}" for k, v in self.coords)
        name = f"{self.var}[{sel}]" if sel else self.var
        return f"posterior({self.source}: {name}, n={self.samples.size}){self.transform_text()}"



_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def _file_param(value: Any, base_dir: Path | None, path: tuple, *, kind: str, limit: int) -> tuple[str, Path]:
    """The file named by a ``file:`` parameter: (as written, resolved path).

    A relative name is resolved against ``base_dir`` (the scenario's directory). Refuses, with an
    InputError, a name that is not text, a file that does not exist, a directory or another kind of non-regular
    file, and a file larger than ``limit`` bytes.
    """
    if not isinstance(value, str | PathLike) or not str(value).strip():
        _fail(f"file must be a file name, got {_describe_type(value)}", path)
    written = str(value)
    if _URL.match(written):
        _fail(f"'{written}' is a URL: revsim reads local files only and never downloads anything; download the "
              "file and give its name", path)
    file = Path(written)
    if not file.is_absolute() and base_dir is not None:
        file = Path(base_dir) / file
    if base_dir is not None:  # before anything is said about the file: not even whether it exists
        from revsim.scenario.file_access import outside_message

        outside = outside_message(written, file, Path(base_dir))
        if outside is not None:
            _fail(outside, path)
    where = "" if str(file) == written else f" (looked for {file})"
    if file.is_dir():
        _fail(f"'{written}' is a directory, expected a file{where}", path)
    if file.exists() and not file.is_file():
        _fail(f"'{written}' is not a regular file{where}", path)
    if not file.is_file():
        _fail(f"cannot find the file '{written}'{where}", path)
    size = file.stat().st_size
    if size > limit:
        _fail(f"'{written}' is {size / 2**20:.1f} MB; {kind} reads files of at most {limit / 2**20:g} MB", path)
    return written, file


def _csv_problem(problem: Any) -> str:
    """A problem of a CSV file as part of a scenario's message: ``line 3: ...``."""
    text = problem.message if not problem.path else f"column '{problem.path[-1]}': {problem.message}"
    if problem.suggestion:
        text += f"; did you mean '{problem.suggestion}'?"
    return f"line {problem.line}: {text}" if problem.line else text


def _shift_scale(params: dict[str, Any], path: tuple) -> tuple[float, float]:
    """The ``shift`` (default 0) and ``scale`` (default 1) of samples read from a file."""
    shift = _number(params["shift"], (*path, "shift")) if "shift" in params else 0.0
    scale = _number(params["scale"], (*path, "scale")) if "scale" in params else 1.0
    return shift, scale


def _build_empirical(params: dict[str, Any], domain: str, base_dir: Path | None, path: tuple) -> Distribution:
    """Values of one CSV column: ``column``, or the first column whose cells are all numbers.

    Blank cells are skipped. Without ``column``, a first line made only of numbers is taken as data (a
    file with no header line). The file is read by :func:`revsim.scenario.csv_source.read_csv_cells`
    (encodings, separators and decimal commas); what it accepted is kept in the distribution's ``notes``.
    """
    from revsim.scenario.csv_source import CsvCells, numeric_column, parse_number, read_csv_cells

    limit = EMPIRICAL_MAX_BYTES
    written, file = _file_param(params["file"], base_dir, (*path, "file"), kind="an empirical distribution",
                                limit=limit)
    column = params.get("column")
    if column is not None and not isinstance(column, str):
        _fail(f"column must be a column name, got {_describe_type(column)}", (*path, "column"))
    try:
        cells = read_csv_cells(file, what="empirical samples", max_bytes=limit)
    except InputError as exc:
        if exc.problems[0].message.startswith("the file is empty"):
            _fail(f"'{written}' is empty", (*path, "file"))
        _fail(f"cannot read '{written}': {'; '.join(_csv_problem(p) for p in exc.problems)}", (*path, "file"))

    if column is None and all(parse_number(name, decimal_comma=cells.decimal_comma)[0] is not None
                              for name in cells.header):
        # No header line: the first line is data.
        cells = CsvCells(file=cells.file, header=[f"column {i + 1}" for i in range(len(cells.header))],
                         rows=[cells.header, *cells.rows], lines=[cells.header_line, *cells.lines],
                         header_line=0, separator=cells.separator, notes=cells.notes)
    names = [name or f"column {i + 1}" for i, name in enumerate(cells.header)]

    if column is not None:
        if column not in names:
            message = f"'{written}' has no column '{column}' (columns: {', '.join(names)})"
            _fail(_with_hint(message, column, names), (*path, "column"))
        chosen = column
        values, _, problems, note = numeric_column(cells, names.index(column), skip_blank=True)
        if problems:
            bad = problems[0]
            text = bad.message
            if text.startswith("expected a number, got ") or text.startswith("expected a finite number, got "):
                text = f"has a value that is not a finite number: {text.split(', got ', 1)[1]}"
            else:
                text = f"line {bad.line}: {text}"
            _fail(f"column '{column}' of '{written}' {text} (line {bad.line})" if text.startswith("has ")
                  else f"column '{column}' of '{written}', {text}", (*path, "column"))
    else:
        for i, name in enumerate(names):
            values, _, problems, note = numeric_column(cells, i, skip_blank=True)
            if not problems and values:
                chosen = name
                break
        else:
            _fail(
                f"'{written}' has no numeric column (columns: {', '.join(names)}); name the column with column:",
                (*path, "file"),
            )
    if len(values) < 2:
        _fail(
            f"an empirical distribution needs at least 2 values, but column '{chosen}' of '{written}' has "
            f"{len(values)}",
            path,
        )
    notes = tuple(f"'{written}': {text}" for text in [*cells.notes, *([note] if note else [])])
    shift, scale = _shift_scale(params, path)
    return Empirical(np.asarray(values, dtype=np.float64), source=written, column=chosen, notes=notes,
                     path=str(file.resolve()), shift=shift, scale=scale)


def _build_posterior(params: dict[str, Any], domain: str, base_dir: Path | None, path: tuple) -> Distribution:
    from revsim.scenario.posterior_file import PosteriorTooLarge, posterior_file

    written, file = _file_param(params["file"], base_dir, (*path, "file"), kind="a posterior distribution",
                                limit=POSTERIOR_MAX_BYTES)
    var = params["var"]
    if not isinstance(var, str) or not var:
        _fail(f"var must be a variable name, got {_describe_type(var)}", (*path, "var"))
    coords = params.get("coords") or {}
    if not isinstance(coords, Mapping):
        _fail(f"coords must be a mapping such as {{segment: smb}}, got {_describe_type(coords)}", (*path, "coords"))

    try:
        source = posterior_file(file)  # read once per file, kept while the file is unchanged
    except OSError as exc:
        _fail(
            f"cannot read '{written}' as a netCDF4 file (as written by ArviZ or xarray): {exc}",
            (*path, "file"),
        )
    where = "posterior group" if source.group else "file"
    variables = list(source.variables)
    if var not in variables:
        message = f"'{written}' has no variable '{var}' in its {where} (variables: {', '.join(variables)})"
        _fail(_with_hint(message, var, variables), (*path, "var"))
    try:
        array = source.array(var)
    except PosteriorTooLarge as exc:
        _fail(f"'{written}': {exc}", (*path, "file"))
    selected: list[tuple[str, Any]] = []
    for dim, label in coords.items():
        dim = str(dim)
        dims = [str(d) for d in array.dims]
        if dim not in dims:
            message = f"variable '{var}' has no dimension '{dim}' (its dimensions: {', '.join(dims)})"
            _fail(_with_hint(message, dim, dims), (*path, "coords", dim))
        if dim in array.indexes:
            labels = list(array.indexes[dim])
            matches = [x for x in labels if x == label or str(x) == str(label)]
            if not matches:
                texts = [str(x) for x in labels]
                message = f"'{label}' is not a {dim} of variable '{var}' (choices: {', '.join(texts)})"
                _fail(_with_hint(message, label, texts), (*path, "coords", dim))
            array = array.sel({dim: matches[0]})
        else:
            size = array.sizes[dim]
            if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < size:
                _fail(
                    f"dimension '{dim}' of variable '{var}' has no labels; select it with a position from 0 "
                    f"to {size - 1}, got {label!r}",
                    (*path, "coords", dim),
                )
            array = array.isel({dim: label})
        selected.append((dim, label))
    extra = [str(d) for d in array.dims if d not in ("chain", "draw")]
    if extra:
        hints = []
        for dim in extra:
            choices = [str(x) for x in array.indexes[dim]] if dim in array.indexes else []
            hints.append(f"{dim}: one of {', '.join(choices)}" if choices else dim)
        _fail(
            f"variable '{var}' has dimensions besides chain and draw ({'; '.join(hints)}); pick one value "
            f"of each with coords:, e.g. coords: {{{extra[0]}: ...}}",
            (*path, "coords") if coords else path,
        )
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        _fail(f"variable '{var}' of '{written}' is not numeric (its type is {array.dtype})", (*path, "var"))
    order = [d for d in ("chain", "draw") if d in array.dims]
    samples = np.asarray(array.transpose(*order).values, dtype=np.float64).reshape(-1)
    if samples.size < 2:
        _fail(f"variable '{var}' of '{written}' has {samples.size} sample(s); a posterior needs at least 2", path)
    if not np.all(np.isfinite(samples)):
        bad = int(np.sum(~np.isfinite(samples)))
        _fail(f"variable '{var}' of '{written}' has {bad} samples that are not finite numbers (NaN or inf)", path)
    shift, scale = _shift_scale(params, path)
    return Posterior(samples, source=written, var=var, coords=tuple(selected), group=str(file.resolve()),
                     path=str(file.resolve()), shift=shift, scale=scale)


@dataclass(frozen=True, eq=False)
class SampledElsewhere(Distribution):
    """What a machine that receives draws already sampled needs of a distribution read from a file: its
    description, mean and support, without the file's samples (which can be hundreds of megabytes).

    :meth:`CompiledScenario.without_samples <revsim.engine.compile.CompiledScenario.without_samples>` puts
    these in place of ``empirical`` and ``posterior`` inputs before a scenario is sent to dask workers.
    """

    description: str
    mean_value: float
    low: float
    high: float
    kind: str = "sampled elsewhere"
    group: str | None = None

    @classmethod
    def of(cls, dist: Distribution) -> SampledElsewhere:
        low, high = dist.support()
        return cls(dist.describe(), dist.mean(), low, high, kind=dist.kind, group=dist.group)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        raise RuntimeError(f"{self.description} is drawn where the run started, not here")

    def mean(self) -> float:
        return self.mean_value

    def describe(self) -> str:
        return self.description

    def support(self) -> tuple[float, float]:
        return self.low, self.high
