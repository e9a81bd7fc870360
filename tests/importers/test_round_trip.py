"""Round trip: a simulated company, rendered as each system's exports, imported back by ``revsim import``.

``scenarios/exports/generate.py`` simulates Larkspur Software contact by contact and subscription by
subscription and keeps its own books (``truth/``): stage entries per month, segment and channel, and MRR
movements, MRR and cohorts per month and segment, classified from what each event was. Every source must
read its exports back into exactly those numbers, to the cent, and the files must be readable by the
calibration's history reader.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from revsim.calibrate.history import read_history
from revsim.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "scenarios" / "exports"
SCENARIO = SAMPLES / "larkspur.yaml"
#: source -> (export files, history files written)
SOURCES = {
    "hubspot": (["hubspot_contacts.csv", "hubspot_deals.csv"], ["funnel.csv"]),
    "salesforce": (["salesforce_opportunities.csv", "salesforce_opportunity_history.csv"], ["funnel.csv"]),
    "stripe": (["stripe_subscriptions.csv", "stripe_invoice_lines.csv"], ["cohorts.csv", "mrr.csv"]),
    "chargebee": (["chargebee_subscriptions.csv", "chargebee_mrr_summary.csv"], ["cohorts.csv", "mrr.csv"]),
    "chartmogul": (["chartmogul_mrr_movements.csv"], ["cohorts.csv", "mrr.csv"]),
}
KEYS = ("month", "cohort", "stage", "segment", "channel", "period")


def _table(text: str, stages: set[str] | None = None) -> dict[tuple, dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(text)))
    out = {}
    for row in rows:
        if stages is not None and row["stage"] not in stages:
            continue
        out[tuple((k, row[k]) for k in KEYS if k in row)] = {k: v for k, v in row.items() if k not in KEYS}
    return out


def _import(source: str, out: Path) -> None:
    files, _ = SOURCES[source]
    result = CliRunner().invoke(cli, ["import", source, *(str(SAMPLES / f) for f in files), "--mapping",
                                      str(SAMPLES / f"{source}_mapping.yaml"), "--scenario", str(SCENARIO),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr, result.stderr


@pytest.mark.parametrize("source", list(SOURCES))
def test_exports_import_back_to_the_simulated_company_to_the_cent(source: str, tmp_path: Path) -> None:
    _import(source, tmp_path)
    _, written = SOURCES[source]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(written)
    for name in written:
        got = _table((tmp_path / name).read_text(encoding="utf-8"))
        stages = {key[1][1] for key in got} if name == "funnel.csv" else None  # a CRM counts the stages it has
        truth = _table((SAMPLES / "truth" / name).read_text(encoding="utf-8"), stages)
        assert got.keys() == truth.keys()
        differences = {key: (got[key], truth[key]) for key in got if got[key] != truth[key]}
        assert not differences, f"{name}: {len(differences)} rows differ, e.g. {next(iter(differences.items()))}"
    history = read_history([tmp_path], stages=["lead", "mql", "sql", "opportunity", "won"],
                           segments=["smb", "mid_market"])
    assert history.files


def test_the_crms_together_give_the_whole_funnel(tmp_path: Path) -> None:
    """HubSpot counts lead to won; Salesforce, the same deals, counts opportunity and won identically."""
    _import("hubspot", tmp_path / "hubspot")
    _import("salesforce", tmp_path / "salesforce")
    hubspot = _table((tmp_path / "hubspot" / "funnel.csv").read_text(encoding="utf-8"))
    salesforce = _table((tmp_path / "salesforce" / "funnel.csv").read_text(encoding="utf-8"))
    assert {key[1][1] for key in hubspot} == {"lead", "mql", "sql", "opportunity", "won"}
    assert {k: v for k, v in hubspot.items() if k[1][1] in ("opportunity", "won")} == salesforce
    assert sum(int(v["count"]) for k, v in hubspot.items() if k[1][1] == "won") > 50


def test_the_billing_systems_agree(tmp_path: Path) -> None:
    for source in ("stripe", "chargebee", "chartmogul"):
        _import(source, tmp_path / source)
    texts = {s: (tmp_path / s / "mrr.csv").read_text(encoding="utf-8") for s in ("stripe", "chargebee", "chartmogul")}
    assert texts["stripe"] == texts["chargebee"] == texts["chartmogul"]
    kinds = _table(texts["stripe"])
    for kind in ("new", "expansion", "contraction", "churn", "reactivation"):
        assert sum(float(row[kind]) for row in kinds.values()) > 0, f"the sample company has no {kind}"


def test_the_samples_are_what_the_generator_writes() -> None:
    """The committed exports are the seeded script's output, byte for byte (and small)."""
    spec = importlib.util.spec_from_file_location("generate_exports", SAMPLES / "generate.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    files = module.render(module.simulate())
    for name, text in files.items():
        assert (SAMPLES / name).read_text(encoding="utf-8") == text, f"{name} differs from generate.py's output"
    assert sum(len(t.encode()) for t in files.values()) < 800_000
