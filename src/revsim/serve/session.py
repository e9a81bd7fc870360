"""One served scenario: its controls, its runs, and the requests of the pages that show it.

A request names the page that sent it (``client``) and its place in that page's sequence (``seq``). Only the
latest request of a page is worth answering: an older one that has not started is dropped, and one that is
running stops at the next draw (through the progress callback of the run), so a slider dragged across its
range costs one preview, not one per position. Runs take turns (two cores are better used by one run at a
time), and each is kept, by scenario, draws and seed, in a small cache: the base runs once per draw count,
and a slider moved back to an earlier position answers at once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from revsim.serve.controls import Control, scenario_controls
from revsim.serve.folder import ScenarioFolder
from revsim.serve.variant import Variant, build_variant

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

    from revsim.scenario.load import LoadedScenario
    from revsim.whatif.compare import Comparison

__all__ = ["WhatIfSession", "Superseded", "RunCache", "DEFAULT_PREVIEW_DRAWS"]

#: Draws of the preview that answers first.
DEFAULT_PREVIEW_DRAWS = 250


class Superseded(Exception):
    """A newer request of the same page arrived: this one is not answered (HTTP 409)."""


class RunCache(OrderedDict):
    """The last ``size`` runs by (scenario hash, draws, seed): the cache of
    :func:`~revsim.whatif.compare.run_comparison`, least recently used first out."""

    def __init__(self, size: int = 12) -> None:
        super().__init__()
        self.size = size
        self._lock = threading.Lock()

    def __getitem__(self, key: Any) -> Any:
        with self._lock:
            value = super().__getitem__(key)
            self.move_to_end(key)
            return value

    def __setitem__(self, key: Any, value: Any) -> None:
        with self._lock:
            super().__setitem__(key, value)
            self.move_to_end(key)
            while len(self) > self.size:
                self.popitem(last=False)


@dataclass
class _Progress:
    done: int = 0
    total: int = 0
    phase: str = ""


@dataclass
class WhatIfSession:
    """The served scenario and how it runs.

    Parameters
    ----------
    scenario_file
        The scenario file, as given on the command line (messages name it so).
    draws, preview_draws, seed, threads
        The full run's draws, the preview's draws, the seed of every run, the worker threads.
    """

    scenario_file: str
    draws: int = 1000
    preview_draws: int = DEFAULT_PREVIEW_DRAWS
    seed: int = 0
    threads: int | None = None
    base: LoadedScenario = field(init=False)
    controls: list[Control] = field(init=False)
    folder: ScenarioFolder = field(init=False)
    cache: RunCache = field(init=False, default_factory=RunCache)
    summaries: RunCache = field(init=False, default_factory=lambda: RunCache(24))

    def __post_init__(self) -> None:
        from revsim.engine.compile import compile_scenario
        from revsim.engine.run import check_run_options
        from revsim.scenario.load import load_scenario

        check_run_options(draws=self.draws, seed=self.seed, threads=self.threads)
        check_run_options(draws=self.preview_draws, seed=self.seed, threads=self.threads)
        self.preview_draws = min(self.preview_draws, self.draws)
        self.base = load_scenario(self.scenario_file)
        compile_scenario(self.base)  # what only compiling checks (correlations), before the page starts
        self.folder = ScenarioFolder.of(self.scenario_file)
        self.controls = scenario_controls(self.base)
        self._run_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._latest: dict[str, int] = {}
        self._progress: dict[str, _Progress] = {}

    # -- the scenario as the page sees it -------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """The scenario, its controls and targets, the run settings: what the page lays out first."""
        from revsim.scenario.schema import iter_inputs

        model = self.base.model
        return {
            "name": model.name, "description": model.description or "", "file": self.scenario_file,
            "file_name": Path(self.scenario_file).name, "folder": self.folder.root.name,
            "currency": model.currency, "start": model.start,
            "horizon": model.month_label(model.horizon_months - 1), "months": model.horizon_months,
            "draws": self.draws, "preview_draws": self.preview_draws, "seed": self.seed,
            "controls": [c.as_json() for c in self.controls],
            "groups": list(dict.fromkeys(c.group for c in self.controls)),
            "paths": [path for path, _ in iter_inputs(model)],
            "targets": [{"name": t.label, "metric": t.metric} for t in model.targets],
        }

    def variant(self, settings: Mapping[str, Any], overrides: Sequence[str] = ()) -> Variant:
        """The variant of the page's settings (see :func:`~revsim.serve.variant.build_variant`)."""
        return build_variant(self.base, self.controls, settings, overrides, folder=self.folder)

    # -- running ---------------------------------------------------------------------------------------------

    def compare(self, variant: Variant, *, draws: int, client: str = "", seq: int = 0,
                phase: str = "full") -> Comparison:
        """The base and the variant run on the same seed and draws (as ``revsim compare`` runs them).

        Raises
        ------
        Superseded
            When a newer request of the same page arrives before or during the runs.
        """
        from revsim.whatif.compare import plan_comparison, run_comparison

        self._check_current(client, seq)
        plan = plan_comparison(self.base, {"variant": variant.scenario})
        with self._run_lock:
            self._check_current(client, seq)
            pending = [v for v in (plan.base, *plan.variants) if (v.scenario.sha256, draws, self.seed) not in self.cache]
            progress = _Progress(0, draws * len({v.scenario.sha256 for v in pending}), phase)
            with self._state_lock:
                self._progress[client] = progress

            def advance(n: int) -> None:
                progress.done += n
                self._check_current(client, seq)

            return run_comparison(plan, draws=draws, seed=self.seed, threads=self.threads, progress=advance,
                                  cache=self.cache)

    def start(self, client: str, seq: int) -> None:
        """Record that page ``client`` sent request ``seq``: its earlier requests are now superseded."""
        with self._state_lock:
            if seq >= self._latest.get(client, -1):
                self._latest[client] = seq
            if len(self._latest) > 1000:  # pages come and go; keep the bookkeeping small
                self._latest = dict(list(self._latest.items())[-100:])

    def _check_current(self, client: str, seq: int) -> None:
        with self._state_lock:
            latest = self._latest.get(client, seq)
        if seq < latest:
            raise Superseded(f"request {seq} of this page was replaced by request {latest}")

    def progress(self, client: str) -> dict[str, Any]:
        with self._state_lock:
            state = self._progress.get(client, _Progress())
        return {"done": state.done, "total": state.total, "phase": state.phase}

    def warm_up(self) -> float:
        """Run the base at the preview's and the full draw count (numba compiles or loads its cache on the
        first run); returns the seconds taken."""
        began = time.perf_counter()
        unchanged = Variant(self.base)
        for draws in dict.fromkeys((self.preview_draws, self.draws)):
            self.compare(unchanged, draws=draws)
        return time.perf_counter() - began

    def variant_dataset(self, variant: Variant, *, name: str | None = None) -> tuple[xr.Dataset, LoadedScenario]:
        """The variant's results at the full draw count (named ``name`` when given), for its report."""
        from revsim.scenario.overrides import override_scenario

        scenario = variant.scenario
        if name and name != scenario.model.name:
            scenario, _ = override_scenario(scenario, {"name": name}, source="name")
        comparison = self.compare(Variant(scenario, variant.changes), draws=self.draws)
        ds = comparison.datasets[comparison.variants[0]]
        return ds, scenario
