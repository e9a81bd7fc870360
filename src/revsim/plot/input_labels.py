"""Readable names for input paths: ``funnel.stages.sql.conversion`` -> ``SQL conversion``.

Charts, the report and the tornado name inputs this way; the path itself stays in tables (``sensitivity.csv``,
the workbook) where a reader may want to copy it into ``--set`` or a lever.
"""

from __future__ import annotations

import numpy as np

from revsim.plot.money import format_count, format_money, format_percent
from revsim.plot.style import display_name

__all__ = ["input_label", "format_input"]

_LEAVES = {
    "conversion": "conversion", "months": "months in stage", "volume": "volume", "growth": "monthly growth",
    "dispersion": "dispersion", "acv": "ACV", "acv_cv": "ACV spread", "success": "onboarding success",
    "churn": "churn per renewal", "alpha": "sBG alpha", "beta": "sBG beta", "rate": "rate",
    "size": "size", "contraction_rate": "contraction rate", "contraction_size": "contraction size",
    "price_uplift": "price uplift", "coefficient": "coefficient", "reps": "sales reps",
    "hires_per_month": "rep hires per month", "deals_per_rep_per_month": "deals per rep per month",
    "cost_per_rep": "cost per rep", "other_spend": "other spend", "cs_cost_per_customer": "CS cost per customer",
    "gross_margin": "gross margin",
}


def input_label(path: str) -> str:
    """A short name for an input path: ``funnel.stages.sql.conversion`` -> ``SQL conversion``,
    ``retention.*.churn`` -> ``Churn per renewal (every segment)``."""
    label = _input_label(path)
    return label if label.startswith("sBG") else label[:1].upper() + label[1:]


def _input_label(path: str) -> str:
    parts = path.split(".")
    leaf = _LEAVES.get(parts[-1], parts[-1].replace("_", " "))
    block = parts[0]
    if block == "funnel" and len(parts) >= 4 and parts[1] == "stages":
        stage = display_name(parts[2])
        segment = f" ({_segment(parts[4])})" if len(parts) >= 6 and parts[3] == "by_segment" else ""
        return f"{stage} {leaf}{segment}"
    if block == "channels" and len(parts) == 3:
        return f"{parts[1].replace('_', ' ')} channel {leaf}"
    if block == "loops" and len(parts) == 3:
        return f"{parts[1].replace('_', ' ')} loop {leaf}"
    if block == "costs" and len(parts) == 3 and parts[1] == "channel_spend":
        return f"{parts[2].replace('_', ' ')} spend"
    if block in ("pricing", "onboarding", "retention", "expansion", "advocacy"):
        prefix = {"expansion": "expansion ", "advocacy": "advocacy "}.get(block, "")
        if leaf in ("contraction rate", "contraction size", "price uplift"):
            prefix = ""
        segment = "" if len(parts) != 3 else " (every segment)" if parts[1] == "*" else \
            f" ({_segment(parts[1])})"
        return f"{prefix}{leaf}{segment}"
    if block in ("costs", "funnel"):
        return leaf
    return path


def _segment(name: str) -> str:
    """A segment as it reads in parentheses: ``smb`` -> ``SMB``, ``mid_market`` -> ``mid market``."""
    shown = display_name(name)
    return shown if shown.isupper() else shown.lower()


def format_input(value: float, units: str, currency: str, reference: float | None = None) -> str:
    """An input's value in its unit: ``25%``, ``$10.8k``, ``1,082``, ``2.5``.

    ``reference`` (the input's median) sets the decimals of percentages, so that a row reads alike.
    """
    if not np.isfinite(value):
        return "n/a"
    if units.startswith(currency) or units.split(" ")[0] == currency:
        return format_money(value, currency)
    if units == "per month":  # a growth rate
        return format_percent(value, decimals=1)
    if units == "ratio":
        scale = abs(value if reference is None or not np.isfinite(reference) else reference)
        return format_percent(value, decimals=1 if scale < 0.1 else 0)
    if units.startswith("entries"):
        return format_count(value)
    if abs(value) >= 1000:
        return format_count(value)
    return f"{value:.3g}"
