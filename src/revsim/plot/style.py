"""The house style of revsim's charts: one palette, slide-sized type, a finding as the title, a source line.

Every chart is drawn at 16:9 slide proportions (13.33 x 7.5 inches) with type large enough to read on a
projected slide, titled with what it shows ("ARR grows from $8M to $26.3M by Dec 2029") and signed at the
bottom with the scenario, seed, draws and date of the run it comes from.

Charts drawn without an ``ax`` create their figure with :func:`house_figure`: through ``pyplot`` (so that a
notebook shows it), or as a bare :class:`matplotlib.figure.Figure` inside :func:`offscreen` (files, reports:
no GUI backend, no global figure list).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from revsim.plot.money import format_money, format_percent

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "PALETTE", "BANDS", "FIGSIZE", "DPI", "RC", "house_style", "house_figure", "offscreen", "source_line",
    "clean_axes", "money_axis", "percent_axis", "month_axis", "month_label", "display_name", "text_width",
    "fitting_size", "wrap_to_width", "fit_text", "make_room_for_tick_labels",
]

#: The one palette: ink for text, a blue for the forecast, green for what adds ARR, red for what takes it
#: away, amber for targets; greys for structure.
PALETTE = {
    "ink": "#1B2A41",
    "muted": "#5B6B7C",
    "faint": "#9AA6B2",
    "grid": "#E4E8ED",
    "paper": "#FFFFFF",
    "primary": "#1F5AA6",
    "total": "#2D3E50",
    "gain": "#2E9B68",
    "gain_light": "#7CC6A0",
    "loss": "#D0485A",
    "loss_light": "#EE9AA4",
    "target": "#D98A00",
    "history": "#111111",
}

#: Nested bands of the fan chart, widest first: (central coverage, colour).
BANDS = ((0.90, "#DCE7F5"), (0.80, "#B4CCEB"), (0.50, "#7FA6DA"))

FIGSIZE = (13.333, 7.5)
DPI = 150

#: Figure-relative rectangle (left, bottom, right, top) that holds the axes, below the title block.
CONTENT = (0.065, 0.12, 0.965, 0.79)

RC: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 14,
    "text.parse_math": False,  # "$" is a currency, not mathtext
    "text.color": PALETTE["ink"],
    "axes.labelcolor": PALETTE["ink"],
    "axes.edgecolor": PALETTE["faint"],
    "axes.labelsize": 14,
    "axes.titlesize": 16,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.titlepad": 12,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "xtick.color": PALETTE["muted"],
    "ytick.color": PALETTE["muted"],
    "xtick.labelcolor": PALETTE["ink"],
    "ytick.labelcolor": PALETTE["ink"],
    "xtick.labelsize": 13,
    "ytick.labelsize": 13,
    "legend.fontsize": 13,
    "legend.frameon": False,
    "figure.facecolor": PALETTE["paper"],
    "savefig.facecolor": PALETTE["paper"],
    "pdf.fonttype": 42,  # TrueType: text stays text in the PDF (searchable, copyable)
    "svg.fonttype": "path",  # identical rendering wherever the SVG is pasted
    "svg.hashsalt": "revsim",  # reproducible SVG ids
}

F = TypeVar("F", bound=Callable[..., Any])

_OFFSCREEN: contextvars.ContextVar[bool] = contextvars.ContextVar("revsim_plot_offscreen", default=False)


@contextlib.contextmanager
def offscreen() -> Iterator[None]:
    """Within this block, charts create bare figures (Agg rendering, not registered with ``pyplot``)."""
    token = _OFFSCREEN.set(True)
    try:
        yield
    finally:
        _OFFSCREEN.reset(token)


def house_style(function: F) -> F:
    """Draw inside the house ``rcParams`` (fonts, colours, spines), leaving the caller's settings alone."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import matplotlib

        with matplotlib.rc_context(RC):
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def source_line(ds: xr.Dataset) -> str:
    """``Source: revsim forecast of <scenario> · seed 42 · 2,000 draws · run 2027-01-15``."""
    attrs = ds.attrs
    parts = [f"Source: revsim forecast, {attrs.get('scenario_name', 'scenario')}"]
    if "seed" in attrs:
        parts.append(f"seed {int(attrs['seed'])}")
    parts.append(f"{int(attrs.get('draws', ds.sizes.get('draw', 0))):,} draws")
    if attrs.get("created_at"):
        parts.append(f"run {str(attrs['created_at'])[:10]}")
    return " \u00b7 ".join(parts)


def house_figure(ds: xr.Dataset | None, title: str, subtitle: str | None = None, *, nrows: int = 1,
                 ncols: int = 1, figsize: tuple[float, float] = FIGSIZE,
                 content: tuple[float, float, float, float] = CONTENT,
                 **gridspec: Any) -> tuple[Figure, Any]:
    """A slide-sized figure with the title block and source line; returns ``(figure, axes)``.

    ``axes`` is one Axes, or an array of them when ``nrows`` or ``ncols`` is above 1. ``gridspec``
    passes ``width_ratios``, ``wspace``... to the grid of axes, which fills ``content``.
    """
    if _OFFSCREEN.get():
        from matplotlib.figure import Figure

        fig = Figure(figsize=figsize, dpi=DPI)
    else:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=figsize, dpi=100)
    left, bottom, right, top = content
    page_width, page_height = figsize[0] * 72, figsize[1] * 72
    heading, size = fit_text(title, 0.92 * page_width, 23, 16, lines=1, weight="bold")
    title_drop = heading.count("\n") * size * 1.2 / page_height  # a long title takes more lines at 16 points
    wrapped = wrap_to_width(subtitle, 0.92 * page_width, 14) if subtitle else ""
    # each line beyond the first of the title and the subtitle pushes what is below it down
    top -= title_drop + wrapped.count("\n") * 14 * 1.3 / page_height
    grid = fig.add_gridspec(nrows, ncols, left=left, bottom=bottom, right=right, top=top, **gridspec)
    axes = np.empty((nrows, ncols), dtype=object)
    for i in range(nrows):
        for j in range(ncols):
            axes[i, j] = fig.add_subplot(grid[i, j])
    fig.text(0.04, 0.925 + title_drop, heading, fontsize=size, fontweight="bold", color=PALETTE["ink"],
             va="top" if title_drop else "baseline", linespacing=1.2)
    if subtitle:
        fig.text(0.04, 0.87 - title_drop, wrapped, fontsize=14, color=PALETTE["muted"], va="top", linespacing=1.3)
    if ds is not None:
        fig.text(0.04, 0.025, source_line(ds), fontsize=10.5, color=PALETTE["muted"], va="baseline")
    return fig, (axes[0, 0] if axes.size == 1 else axes.squeeze())


def text_width(text: str, size: float, weight: str = "bold") -> float:
    """Width in points of one line of ``text`` in the house font (measured from the glyphs, no renderer)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    prop = FontProperties(family=RC["font.family"], size=size, weight=weight)
    width, _, _ = TextToPath().get_text_width_height_descent(text, prop, ismath=False)
    return float(width)


def wrap_to_width(text: str, width: float, size: float) -> str:
    """``text`` with line breaks so that no line is wider than ``width`` points at ``size`` (words kept whole)."""
    return _wrap(text, width, size, "normal")


def fit_text(text: str, width: float, size: float, smallest: float, *, lines: int = 2,
             weight: str = "normal") -> tuple[str, float]:
    """``text`` wrapped to at most ``lines`` lines of ``width`` points, at the largest size from ``size`` down to
    ``smallest`` where it fits: (the wrapped text, its size). Nothing is cut: at ``smallest`` the text takes
    the lines it needs."""
    candidate = size
    while True:
        wrapped = _wrap(text, width, candidate, weight)
        rows = wrapped.split("\n")
        if (len(rows) <= lines and all(text_width(row, candidate, weight) <= width for row in rows)) \
                or candidate <= smallest:
            return wrapped, candidate
        candidate = max(smallest, candidate - 0.5)


def _wrap(text: str, width: float, size: float, weight: str) -> str:
    lines = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if line and text_width(candidate, size, weight=weight) > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return "\n".join(lines)


def make_room_for_tick_labels(ax: Axes, *, size: float = 13, pad: float = 16) -> None:
    """Move the axes' left edge so that the widest y tick label fits on the page (continental money labels
    such as ``1,5 M EUR`` are wider than ``$1.5M``). Call once the limits, locator and formatter are set."""
    low, high = ax.get_ylim()
    locator, formatter = ax.yaxis.get_major_locator(), ax.yaxis.get_major_formatter()
    ticks = [t for t in locator.tick_values(low, high) if min(low, high) <= t <= max(low, high)]
    formatter.set_locs(ticks)
    widest = max((text_width(formatter(t, i), size, weight="normal") for i, t in enumerate(ticks)), default=0)
    figure_width = ax.figure.get_figwidth() * 72
    box = ax.get_position()
    needed = (widest + pad + 12) / figure_width  # the label, the gap to the axis, the page margin
    if box.x0 < needed:
        ax.set_position((needed, box.y0, box.x1 - needed, box.height))


def fitting_size(text: str, width: float, size: float, smallest: float) -> float:
    """The largest font size from ``size`` down to ``smallest`` at which ``text`` fits in ``width`` points."""
    while size > smallest and text_width(text, size) > width:
        size -= 0.5
    return size


def clean_axes(ax: Axes, *, grid: str | None = "y") -> None:
    """Light horizontal grid behind the data, no top or right spine, muted ticks."""
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    if grid:
        ax.grid(axis=grid, color=PALETTE["grid"], linewidth=1.0)
        ax.set_axisbelow(True)
    ax.tick_params(length=0 if grid == "y" else 4, pad=6)


def money_axis(ax: Axes, currency: str, axis: str = "y") -> None:
    """Tick labels as compact money in ``currency``."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    formatter = FuncFormatter(lambda value, _pos: format_money(value, currency))
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(formatter)
    target.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))


def percent_axis(ax: Axes, axis: str = "y", *, nbins: int = 6) -> None:
    """Tick labels as percentages of ratio values (0.92 -> ``92%``), each label exactly its tick's value.

    Ticks fall on round percentages (steps of 1, 2, 2.5 or 5 times a power of ten) and are written with as
    many decimals as the step needs, so a gridline labelled 92% is at 92%, not at 92.5%.
    """
    from matplotlib.ticker import MaxNLocator

    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10]))
    target.set_major_formatter(ExactPercentFormatter())


def _exact_percent_formatter_class() -> type:
    from matplotlib.ticker import Formatter

    class _ExactPercentFormatter(Formatter):
        """Percent labels with the fewest decimals (at most 4) that write every tick exactly."""

        decimals = 0

        def set_locs(self, locs: Any) -> None:
            super().set_locs(locs)
            values = [100 * float(v) for v in locs]
            self.decimals = next((d for d in range(5) if all(abs(round(v, d) - v) < 1e-7 for v in values)), 4)

        def __call__(self, value: float, pos: Any = None) -> str:
            return format_percent(value, decimals=self.decimals)

    return _ExactPercentFormatter


def ExactPercentFormatter() -> Any:  # noqa: N802  (a class made on first use: matplotlib loads lazily)
    """A matplotlib Formatter writing ratios as exact percentages (see :func:`percent_axis`)."""
    global _EXACT_PERCENT
    if _EXACT_PERCENT is None:
        _EXACT_PERCENT = _exact_percent_formatter_class()
    return _EXACT_PERCENT()


_EXACT_PERCENT: type | None = None


def month_label(month: Any) -> str:
    """``Dec 2029`` for a month (datetime64, Timestamp or ``YYYY-MM``)."""
    import pandas as pd

    return pd.Timestamp(np.datetime64(str(month)[:7], "M")).strftime("%b %Y")


def month_axis(ax: Axes, months: np.ndarray) -> None:
    """Month ticks every 3 or 6 months (``Jan 2027``), or years (``2031``) for plans over 4 years."""
    import matplotlib.dates as mdates

    span = len(months)
    if span <= 48:
        step = 3 if span <= 18 else 6
        ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=range(1, 13, step)))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
        ax.xaxis.set_minor_locator(mdates.MonthLocator())
    else:  # long plans: years only
        years = next(y for y in (1, 2, 5, 10, 20, 50) if span / 12 / y <= 10)
        ax.xaxis.set_major_locator(mdates.YearLocator(base=years))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
        ax.xaxis.set_minor_locator(mdates.YearLocator())
    ax.tick_params(axis="x", which="minor", length=3, color=PALETTE["faint"])
    ax.tick_params(axis="x", which="major", length=6, color=PALETTE["faint"])


_ACRONYMS = {"tofu", "mofu", "bofu", "mql", "sql", "sal", "pql", "poc", "icp", "sdr", "bdr", "smb", "smbs"}


def display_name(name: str) -> str:
    """A stage or segment name for a reader: ``mql`` -> ``MQL``, ``closed_won`` -> ``Closed won``."""
    text = str(name).replace("_", " ")
    if text.lower() in _ACRONYMS or (len(text) <= 4 and not set(text.lower()) & set("aeiou")):
        return text.upper()
    return text[:1].upper() + text[1:]
