"""Checks a designer would make on a rendered figure: no text cut by the page edge, no two texts overlapping."""

from __future__ import annotations

import re
from itertools import combinations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text


def _hidden_tick_labels(fig: Figure) -> set[int]:
    """Axis texts matplotlib keeps but does not draw: ticks outside the view, every axis text when it is off."""
    hidden = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            drawn = {id(t) for tick in axis._update_ticks() for t in (tick.label1, tick.label2)}
            if not ax.axison:
                drawn = set()
                hidden.update({id(axis.label), id(axis.offsetText)})
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                for label in (tick.label1, tick.label2):
                    if id(label) not in drawn:
                        hidden.add(id(label))
    return hidden


def visible_texts(fig: Figure) -> list[Text]:
    """Every text the figure draws: titles, labels, drawn tick labels, annotations."""
    hidden = _hidden_tick_labels(fig)
    texts = []
    for text in fig.findobj(Text):
        if not text.get_visible() or not text.get_text().strip() or text.get_alpha() == 0 or id(text) in hidden:
            continue
        if text.axes is not None and not text.axes.get_visible():
            continue
        texts.append(text)
    return texts


def all_texts(fig: Figure) -> list[str]:
    """The strings of :func:`visible_texts`."""
    return [t.get_text() for t in visible_texts(fig)]


def layout_problems(fig: Figure, tolerance: float = 1.0) -> list[str]:
    """Texts outside the figure, and pairs of texts whose boxes overlap by more than ``tolerance`` pixels."""
    fig.set_dpi(60)  # a coarse raster is enough to measure text boxes, and quick
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    page = fig.bbox
    boxes = []
    problems = []
    for text in visible_texts(fig):
        if text.get_clip_on() and text.axes is not None:
            clip = text.get_clip_box()
            box = text.get_window_extent(renderer)
            if clip is not None and not clip.overlaps(box):
                continue  # drawn outside its axes' clip box: not shown at all
        box = text.get_window_extent(renderer)
        if box.width == 0 or box.height == 0:
            continue
        if box.x0 < page.x0 - tolerance or box.x1 > page.x1 + tolerance or box.y0 < page.y0 - tolerance \
                or box.y1 > page.y1 + tolerance:
            problems.append(f"clipped: {text.get_text()!r}")
        boxes.append((text, box))
    for (a, box_a), (b, box_b) in combinations(boxes, 2):
        width = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
        height = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
        if width > tolerance and height > tolerance:
            problems.append(f"overlap: {a.get_text()!r} and {b.get_text()!r}")
    return problems


# -- tick labels -------------------------------------------------------------------------------------------

_SCALE = {"": 1.0, "k": 1e3, "M": 1e6, "B": 1e9}
_MONEY = re.compile(r"^(?P<sign>[+\u2212-])?(?P<prefix>[^\d\s+\u2212-]*)(?P<number>\d[\d,.]*)\s?(?P<scale>[kMB]?)"
                    r"(?:\s?(?P<code>[A-Z]{3}))?$")


def parse_tick_label(text: str) -> float | None:
    """The number a tick label writes (``92%``, ``$1.25M``, ``1,2 M EUR``, ``−$850k``, ``1,200``), or None
    for a label that is not a number (a name, a month)."""
    text = text.strip()
    if not text:
        return None
    if text.endswith("%"):
        body = text[:-1].replace("\u2212", "-")
        try:
            return float(body) / 100
        except ValueError:
            return None
    match = _MONEY.match(text)
    if not match:
        return None
    number = match["number"]
    if match["code"] and "," in number and "." not in number and not re.fullmatch(r"\d{1,3}(,\d{3})+", number):
        number = number.replace(",", ".")  # a decimal comma (1,2 M EUR)
    elif match["code"] and "," in number and match["scale"]:
        number = number.replace(",", ".")
    else:
        number = number.replace(",", "")
    try:
        value = float(number) * _SCALE[match["scale"]]
    except ValueError:
        return None
    return -value if match["sign"] in ("-", "\u2212") else value


def tick_label_problems(fig: Figure) -> list[str]:
    """Tick labels that do not write their tick's value: a number label must equal its position (to 1e-9
    relative), a month label must name the month of its position. Labels set by hand (names) are skipped."""
    import matplotlib.dates as mdates
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    problems = []
    for ax in fig.axes:
        if not ax.axison:
            continue
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            formatter = axis.get_major_formatter()
            if isinstance(formatter, FixedFormatter | NullFormatter) or isinstance(axis.get_major_locator(),
                                                                                    FixedLocator):
                continue  # labels set by hand at fixed places (stage names, cohorts, ages): not values
            low, high = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks():
                position, text = tick.get_loc(), tick.label1.get_text()
                if not tick.label1.get_visible() or not text or not low - 1e-9 * abs(high - low) <= position \
                        <= high + 1e-9 * abs(high - low):
                    continue
                if isinstance(formatter, mdates.DateFormatter | mdates.AutoDateFormatter | mdates.ConciseDateFormatter):
                    when = mdates.num2date(position)
                    if str(when.year) not in text:
                        problems.append(f"{name} tick at {when:%Y-%m-%d} labelled {text!r}")
                    continue
                value = parse_tick_label(text)
                if value is None:
                    problems.append(f"{name} tick at {position:g} has a label that is not a number: {text!r}")
                elif abs(value - position) > 1e-9 * max(abs(position), abs(high - low)):
                    problems.append(f"{name} tick at {position:.10g} labelled {text!r} ({value:.10g})")
    return problems
