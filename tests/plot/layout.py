"""Checks a designer would make on a rendered figure: no text cut by the page edge, no two texts overlapping."""

from __future__ import annotations

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
