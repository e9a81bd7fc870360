"""The board report of a run: chart files, ``report.pdf`` and ``forecast.xlsx`` (``revsim report``).

>>> import revsim
>>> from revsim.report import write_report
>>> ds = revsim.simulate("scenarios/saas_sales_led.yaml", draws=1000)        # doctest: +SKIP
>>> result = write_report(ds, "out/sales_led/report", formats=["png", "svg"])  # doctest: +SKIP
>>> result.notes                                                             # doctest: +SKIP
[]

matplotlib and openpyxl are imported only when a report is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from revsim.lazy_exports import lazy_getattr

__all__ = ["write_report", "open_results", "ReportResult"]

if TYPE_CHECKING:  # pragma: no cover
    from revsim.report.build import ReportResult, write_report
    from revsim.report.results_file import open_results

_LAZY = {
    "write_report": "revsim.report.build",
    "ReportResult": "revsim.report.build",
    "open_results": "revsim.report.results_file",
}


__getattr__ = lazy_getattr(__name__, _LAZY)
