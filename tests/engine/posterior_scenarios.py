"""A small scenario whose ACV and churn are drawn from a posterior file, for the tests of posterior inputs."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from revsim.scenario.load import LoadedScenario, scenario_from_dict


def posterior_scenario(folder: Path, posterior: xr.Dataset) -> LoadedScenario:
    """Write ``posterior`` (variables ``acv`` and ``churn``, dims chain and draw) as ``folder/posterior.nc``
    (group ``posterior``, as ArviZ writes it) and load a scenario whose ACV and churn are drawn from it."""
    folder.mkdir()
    posterior.to_netcdf(folder / "posterior.nc", group="posterior", engine="h5netcdf")
    ref = {"dist": "posterior", "file": "posterior.nc"}
    return scenario_from_dict({
        "name": "Posterior", "start": "2027-01", "horizon_months": 12,
        "channels": [{"name": "inbound", "volume": [80, 120]}],
        "funnel": {"stages": [{"name": "lead", "conversion": [0.2, 0.3], "months": 1}, {"name": "won"}]},
        "pricing": {"acv": {**ref, "var": "acv"}},
        "retention": {"churn": {**ref, "var": "churn"}},
    }, base_dir=folder)
