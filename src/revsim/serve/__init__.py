"""``revsim serve``: a local what-if page for planning meetings.

The page shows a scenario's levers and main inputs as sliders, and a free ``--set`` field. Each change builds
a variant of the scenario with the lever and override functions of :mod:`revsim.scenario` and compares it
with the base through :mod:`revsim.whatif.compare`, on the same seed and draws: the numbers on the page are
those ``revsim compare`` prints for the same change. A preview at a few hundred draws answers first, then the
full run refines it.

=================================  ===========================================================
:mod:`~revsim.serve.controls`      the sliders: which inputs, which changes, which ranges
:mod:`~revsim.serve.variant`       a page's settings -> the variant scenario
:mod:`~revsim.serve.folder`        the scenario's folder: no file outside it is read or written
:mod:`~revsim.serve.results`       a comparison -> what the page shows (JSON)
:mod:`~revsim.serve.saving`        the variant as a scenario file (changed values, or levers)
:mod:`~revsim.serve.session`       one served scenario: its runs, the preview and the refinement
:mod:`~revsim.serve.app`           the FastAPI application (imports FastAPI; the rest does not)
=================================  ===========================================================

FastAPI and uvicorn are an optional extra: ``pip install "revsim[serve]"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from revsim.lazy_exports import lazy_getattr

__all__ = ["create_app", "WhatIfSession"]

if TYPE_CHECKING:  # pragma: no cover
    from revsim.serve.app import create_app
    from revsim.serve.session import WhatIfSession

_LAZY = {
    "create_app": "revsim.serve.app",
    "WhatIfSession": "revsim.serve.session",
}

__getattr__ = lazy_getattr(__name__, _LAZY)
