"""The error a chart raises when the run lacks the data it needs (a report skips the chart with a note)."""

from __future__ import annotations

__all__ = ["ChartUnavailable"]


class ChartUnavailable(Exception):
    """A chart cannot be drawn from this run; the message says what is missing and how to get it."""
