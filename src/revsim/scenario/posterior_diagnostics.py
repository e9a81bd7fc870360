"""The calibration diagnostics recorded in the posterior files a scenario reads, and the refusal to forecast
from one that failed them.

``revsim calibrate`` records the decision of its diagnostics gate in the attributes of ``posterior.nc``
(``revsim_diagnostics``: ``passed`` or ``failed``; ``revsim_diagnostics_accepted``: 1 when the user chose
to use a failed calibration anyway). A scenario that reads a failed, unaccepted posterior is refused by the
commands that forecast from it, unless they are given ``--accept-diagnostics``. Posterior files without
the attribute (written by other tools, or by earlier versions) are used as they are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from revsim.errors import DiagnosticsError

if TYPE_CHECKING:  # pragma: no cover
    from revsim.scenario.load import LoadedScenario

__all__ = ["PosteriorVerdict", "posterior_verdicts", "check_posterior_diagnostics"]


@dataclass(frozen=True)
class PosteriorVerdict:
    """What a posterior file says of its calibration's diagnostics, and the inputs that read it."""

    path: str
    status: str  # passed, failed, or "" when the file does not say
    accepted: bool
    summary: str
    problems: str
    inputs: tuple[str, ...]

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def record(self) -> dict[str, object]:
        return {"file": Path(self.path).name, "diagnostics": self.status, "accepted": self.accepted,
                "summary": self.summary}


def posterior_verdicts(loaded: LoadedScenario) -> list[PosteriorVerdict]:
    """One verdict per posterior file the scenario's inputs read, in the order they first appear."""
    from revsim.scenario.distributions import Posterior
    from revsim.scenario.posterior_file import posterior_file
    from revsim.scenario.schema import iter_inputs

    inputs: dict[str, list[str]] = {}
    for path, dist in iter_inputs(loaded.model):
        if isinstance(dist, Posterior) and dist.path:
            inputs.setdefault(dist.path, []).append(path)
    verdicts = []
    for file, paths in inputs.items():
        try:
            attrs = posterior_file(file).attrs
        except OSError:  # gone since the scenario was loaded: its samples are already in memory
            attrs = {}
        verdicts.append(PosteriorVerdict(
            path=file, status=str(attrs.get("revsim_diagnostics", "")),
            accepted=bool(int(attrs.get("revsim_diagnostics_accepted", 0) or 0)),
            summary=str(attrs.get("revsim_diagnostics_summary", "")),
            problems=str(attrs.get("revsim_diagnostics_problems", "")), inputs=tuple(paths)))
    return verdicts


def check_posterior_diagnostics(loaded: LoadedScenario, *, accept: bool = False) -> list[str]:
    """Refuse a scenario that reads a posterior whose calibration failed its diagnostics, unaccepted.

    Returns the warnings to print for failed posteriors that were accepted (here with ``accept``, or when
    calibrating).

    Raises
    ------
    DiagnosticsError
        For the first failed posterior file that was not accepted, when ``accept`` is false.
    """
    warnings = []
    for verdict in posterior_verdicts(loaded):
        if not verdict.failed:
            continue
        name = Path(verdict.path).name
        where = f"{loaded.file}: " if loaded.file not in ("<dict>", "<string>") else ""
        if not verdict.accepted and not accept:
            shown = ", ".join(verdict.inputs[:3]) + (f" and {len(verdict.inputs) - 3} more"
                                                      if len(verdict.inputs) > 3 else "")
            problems = "".join(f"\n  - {line}" for line in verdict.problems.splitlines() if line)
            raise DiagnosticsError(
                f"{where}{shown} read {name}, whose calibration failed its sampler diagnostics "
                f"({verdict.summary}); a forecast from chains that disagree is not made without your say-so:"
                f"{problems}\ncalibrate again (diagnostics.csv next to {name} tells which variables, and the "
                "calibrate command's message what to try), or pass --accept-diagnostics to forecast from it anyway")
        how = "accepted when calibrating" if verdict.accepted else "accepted with --accept-diagnostics"
        warnings.append(f"{where}{name} failed its sampler diagnostics ({verdict.summary}), {how}: the forecast "
                        "rests on chains that disagree")
    return warnings


def diagnostics_attribute(loaded: LoadedScenario) -> str | None:
    """JSON list of the posterior files' verdicts, for the results' provenance (None when none has one)."""
    verdicts = [v.record() for v in posterior_verdicts(loaded) if v.status]
    return json.dumps(verdicts) if verdicts else None
