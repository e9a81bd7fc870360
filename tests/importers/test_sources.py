"""Each source on small exports: what it counts, what it notes, what it refuses; the mapping file."""

from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner

from revsim.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
NORTHWIND = str(REPO / "scenarios" / "history" / "northwind.yaml")


def _write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _run(*args: str):
    return CliRunner().invoke(cli, ["import", *args])


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open(encoding="utf-8")))


def test_hubspot_deals_alone_count_opportunities_and_wins_on_their_dates(tmp_path: Path) -> None:
    deals = _write(tmp_path, "deals.csv",
                   "Record ID,Deal Stage,Amount,Create Date,Close Date\n"
                   "1,Closed Won,1200,2024-01-05 10:00,2024-03-02\n"
                   "2,closedlost,900,2024-01-20 10:00,2024-02-10\n"
                   "3,appointmentscheduled,,2024-02-11 10:00,\n")
    result = _run("hubspot", deals, "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "a won deal enters won on its Close Date" in result.stderr
    counts = {(r["month"], r["stage"]): int(r["count"]) for r in _rows(tmp_path / "out" / "funnel.csv")}
    assert counts == {("2024-01", "opportunity"): 2, ("2024-01", "won"): 0, ("2024-02", "opportunity"): 1,
                      ("2024-02", "won"): 0, ("2024-03", "opportunity"): 0, ("2024-03", "won"): 1}


def test_a_stage_counted_from_two_files_is_refused(tmp_path: Path) -> None:
    contacts = _write(tmp_path, "contacts.csv", "Record ID,Became a Lead Date,Became a Customer Date\n"
                                                "1,2024-01-02,2024-02-03\n")
    deals = _write(tmp_path, "deals.csv", "Record ID,Deal Stage,Create Date,Close Date\n"
                                          "1,closedwon,2024-01-10,2024-02-03\n")
    mapping = _write(tmp_path, "map.yaml", "stages:\n  deals: {created: opportunity, closedwon: won}\n")
    result = _run("hubspot", contacts, deals, "--mapping", mapping, "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "the funnel stage 'won' is counted from this file (Close Date of won deals) and from" in result.stderr
    assert "contacts.csv" in result.stderr
    assert not (tmp_path / "out").exists()


def test_segments_and_channels_map_onto_the_scenario(tmp_path: Path) -> None:
    contacts = _write(tmp_path, "contacts.csv",
                      "Record ID,Became a Lead Date,Became a Marketing Qualified Lead Date,Size,Source\n"
                      "1,2024-01-02,2024-01-20,1-10,Organic Search\n"
                      "2,2024-01-05,,200+,Organic Search\n"
                      "3,2024-02-05,2024-03-01,1-10,Partner\n")
    mapping = _write(tmp_path, "map.yaml", "columns: {Size: segment, Source: channel}\n"
                                           "segments: {1-10: smb, 200+: mid_market}\n"
                                           "channels: {Organic Search: inbound, Partner: referrals}\n")
    result = _run("hubspot", contacts, "--mapping", mapping, "--scenario", NORTHWIND, "--out", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    rows = _rows(tmp_path / "o" / "funnel.csv")
    assert list(rows[0]) == ["month", "stage", "segment", "channel", "count"]
    assert len(rows) == 3 * 2 * 2 * 2  # months x stages x segments x channels, 0 where nothing happened
    entries = {(r["month"], r["stage"], r["segment"], r["channel"]): int(r["count"]) for r in rows}
    assert entries[("2024-01", "lead", "smb", "inbound")] == 1
    assert entries[("2024-01", "lead", "mid_market", "inbound")] == 1
    assert entries[("2024-03", "mql", "smb", "referrals")] == 1
    assert sum(entries.values()) == 5
    unknown = _write(tmp_path, "bad.yaml", "columns: {Size: segment}\nsegments: {1-10: smb}\n")
    result = _run("hubspot", contacts, "--mapping", unknown, "--scenario", NORTHWIND, "--out", str(tmp_path / "p"))
    assert result.exit_code == 2
    assert "Size: unknown segment '200+' (the scenario's segments: smb, mid_market)" in result.stderr
    assert "(line 3)" in result.stderr


def test_a_date_format_reads_day_first_dates(tmp_path: Path) -> None:
    contacts = _write(tmp_path, "contacts.csv", "Record ID,Became a Lead Date\n1,31/01/2024 10:00\n2,01/02/2024\n")
    mapping = _write(tmp_path, "map.yaml", "date_format: '%d/%m/%Y'\n")
    result = _run("hubspot", contacts, "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "ambiguous" in result.stderr
    mapping = _write(tmp_path, "map.yaml", "date_format: '%d/%m/%Y %H:%M'\n")
    result = _run("hubspot", contacts, "--mapping", mapping, "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "is not a date in the mapping file's date_format" in result.stderr
    contacts = _write(tmp_path, "contacts.csv", "Record ID,Became a Lead Date\n1,31/01/2024\n2,01/02/2024\n")
    mapping = _write(tmp_path, "map.yaml", "date_format: '%d/%m/%Y'\n")
    result = _run("hubspot", contacts, "--mapping", mapping, "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert [r["count"] for r in _rows(tmp_path / "out" / "funnel.csv")] == ["1", "1"]


def test_salesforce_counts_first_entries_from_the_history(tmp_path: Path) -> None:
    opportunities = _write(tmp_path, "opps.csv",
                           "Id,CreatedDate,StageName,CloseDate,IsWon\n"
                           "o1,2024-01-03T09:00:00.000+0000,Closed Won,2024-03-01,true\n"
                           "o2,2024-01-10T09:00:00.000+0000,Closed Lost,2024-02-01,false\n"
                           "o3,2024-02-10T09:00:00.000+0000,Closed Won,2024-02-20,true\n")
    history = _write(tmp_path, "history.csv",
                     "OpportunityId,CreatedDate,StageName,Amount\n"
                     "o1,2024-01-03T09:00:00.000+0000,Prospecting,100\n"
                     "o1,2024-01-15T09:00:00.000+0000,Qualification,100\n"
                     "o1,2024-01-25T09:00:00.000+0000,Qualification,150\n"
                     "o1,2024-02-27T09:00:00.000+0000,Closed Won,150\n"
                     "o2,2024-01-10T09:00:00.000+0000,Qualification,90\n"
                     "o9,2024-01-10T09:00:00.000+0000,Qualification,90\n")
    mapping = _write(tmp_path, "map.yaml", "stages: {created: opportunity, Qualification: sql, Closed Won: won}\n")
    result = _run("salesforce", opportunities, history, "--mapping", mapping, "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "1 rows belong to opportunities not in the Opportunity export" in result.stderr
    counts = {(r["month"], r["stage"]): int(r["count"]) for r in _rows(tmp_path / "out" / "funnel.csv")}
    # o1 won on its history row (February), o3 (no history) on its CloseDate; o1's repeated stage counts once
    assert counts[("2024-01", "sql")] == 2 and counts[("2024-02", "sql")] == 0
    assert counts[("2024-02", "won")] == 2 and ("2024-03", "won") not in counts
    assert counts[("2024-01", "opportunity")] == 2 and counts[("2024-02", "opportunity")] == 1
    stages = [r["stage"] for r in _rows(tmp_path / "out" / "funnel.csv")][:3]
    assert stages == ["opportunity", "sql", "won"]  # the mapping's order


def test_stripe_subscriptions_alone(tmp_path: Path) -> None:
    subscriptions = _write(tmp_path, "subs.csv",
                           "id,Customer ID,Interval,Amount,Quantity,Status,Start (UTC),Trial End (UTC),"
                           "Canceled At (UTC),Cancel At Period End,Current Period End (UTC),Ended At (UTC)\n"
                           "s1,c1,month,100.00,2,active,2024-01-05,,,false,2024-04-05,\n"
                           "s2,c2,year,1200.00,1,canceled,2024-01-10,2024-01-24,2024-03-01,false,,2024-03-02\n"
                           "s3,c3,month,50.00,1,canceled,2024-02-01,2024-02-15,2024-02-10,false,,2024-02-15\n"
                           "s4,c1,month,30.00,1,active,2024-02-03,,2024-03-10,true,2024-04-03,\n")
    result = _run("stripe", subscriptions, "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "1 subscriptions left out: ended before paying" in result.stderr
    assert "current price only" in result.stderr
    rows = {r["month"]: r for r in _rows(tmp_path / "out" / "mrr.csv")}
    assert rows["2024-01"]["new"] == "300.00" and rows["2024-01"]["mrr"] == "300.00"  # c1 200, c2 100 (1200/12)
    assert rows["2024-02"]["expansion"] == "30.00"  # c1's second subscription
    assert rows["2024-03"]["churn"] == "100.00" and rows["2024-03"]["mrr"] == "230.00"
    assert list(rows) == ["2024-01", "2024-02", "2024-03"]


def test_chargebee_subscriptions_alone_compute_mrr_from_plan_prices(tmp_path: Path) -> None:
    subscriptions = _write(tmp_path, "subs.csv",
                           "subscriptions.id,subscriptions.customer_id,subscriptions.status,"
                           "subscriptions.plan_unit_price,subscriptions.plan_quantity,subscriptions.billing_period,"
                           "subscriptions.billing_period_unit,subscriptions.activated_at,subscriptions.cancelled_at\n"
                           "s1,c1,active,60.00,3,1,month,2024-01-05,\n"
                           "s2,c2,cancelled,2400.00,1,1,year,2024-01-10,2024-02-10\n")
    result = _run("chargebee", subscriptions, "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    rows = {r["month"]: r for r in _rows(tmp_path / "out" / "mrr.csv")}
    assert rows["2024-01"]["new"] == "380.00"
    assert rows["2024-02"]["churn"] == "200.00" and rows["2024-02"]["mrr"] == "180.00"


def test_chargebee_summary_converts_with_the_row_exchange_rate(tmp_path: Path) -> None:
    summary = _write(tmp_path, "summary.csv",
                     "customer_id,subscription_id,reporting_month,status,billing_currency_code,mrr_billing_currency,"
                     "reporting_currency_code,exchange_rate\n"
                     "c1,s1,2024-01-31,active,EUR,100.00,USD,1.10\n"
                     "c1,s1,2024-02-29,active,EUR,150.00,USD,1.10\n"
                     "c2,s2,2024-02-29,active,USD,50.00,USD,1\n"
                     "c1,s3,2024-03-31,active,EUR,10.00,USD,1.10\n")
    result = _run("chargebee", summary, "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    rows = {r["month"]: r for r in _rows(tmp_path / "out" / "mrr.csv")}
    assert rows["2024-01"]["new"] == "110.00"
    assert rows["2024-02"]["expansion"] == "55.00" and rows["2024-02"]["new"] == "50.00"
    # March: c1's s1 has no row (it paid nothing), s3 pays 11.00; c2 has no row: churn
    assert rows["2024-03"]["contraction"] == "154.00" and rows["2024-03"]["churn"] == "50.00"
    assert rows["2024-03"]["mrr"] == "11.00"


def test_customers_without_a_segment_beside_others_are_refused(tmp_path: Path) -> None:
    subscriptions = _write(tmp_path, "subs.csv", "id,Customer ID,Interval,Amount,Start (UTC),segment\n"
                                                 "s1,c1,month,10.00,2024-01-01,smb\n")
    lines = _write(tmp_path, "lines.csv", "Customer,Subscription,Amount,Period Start,Period End\n"
                                          "c1,s1,10.00,2024-01-01,2024-02-01\n"
                                          "c2,s2,10.00,2024-01-01,2024-02-01\n")
    result = _run("stripe", subscriptions, lines, "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "lines.csv: customer c2 has no segment, while other customers have one" in result.stderr
    assert "(line 3)" in result.stderr


def test_history_files_are_only_replaced_with_force(tmp_path: Path) -> None:
    lines = _write(tmp_path, "lines.csv", "Customer,Subscription,Amount,Period Start,Period End\n"
                                          "c1,s1,10.00,2024-01-01,2024-02-01\n")
    contacts = _write(tmp_path, "contacts.csv", "Record ID,Became a Lead Date\n1,2024-01-02\n")
    out = tmp_path / "history"
    assert _run("hubspot", contacts, "--out", str(out)).exit_code == 0
    assert _run("stripe", lines, "--out", str(out)).exit_code == 0  # other files: no --force needed
    assert sorted(p.name for p in out.iterdir()) == ["cohorts.csv", "funnel.csv", "mrr.csv"]
    again = _run("stripe", lines, "--out", str(out))
    assert again.exit_code == 2 and "already holds cohorts.csv, mrr.csv" in again.stderr
    assert _run("stripe", lines, "--out", str(out), "--force").exit_code == 0


def test_from_and_until_crop_every_file(tmp_path: Path) -> None:
    lines = _write(tmp_path, "lines.csv", "Customer,Subscription,Amount,Period Start,Period End\n"
                                          "c1,s1,10.00,2024-01-01,2024-02-01\n"
                                          "c1,s1,10.00,2024-02-01,2024-03-01\n"
                                          "c2,s2,20.00,2024-02-10,2024-03-10\n"
                                          "c1,s1,10.00,2024-03-01,2024-04-01\n"
                                          "c2,s2,25.00,2024-03-10,2024-04-10\n")
    result = _run("stripe", lines, "--from", "2024-02", "--until", "2024-02", "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    rows = _rows(tmp_path / "out" / "mrr.csv")
    assert [(r["month"], r["new"], r["mrr"]) for r in rows] == [("2024-02", "20.00", "30.00")]
    assert "MRR movements dated after 2024-02 are left out" in result.stderr
    bad = _run("stripe", lines, "--from", "2024-05", "--until", "2024-02", "--out", str(tmp_path / "o2"))
    assert bad.exit_code == 2 and "--until 2024-02 is before --from 2024-05" in bad.stderr


def test_an_excel_export_is_read_with_notes(tmp_path: Path) -> None:
    """A CRM export saved by Excel: byte order mark, semicolons, Windows line ends, Latin-1 names."""
    path = tmp_path / "contacts.csv"
    text = ("Record ID;Nom;Became a Lead Date;Became a Marketing Qualified Lead Date\r\n"
            "1;Hélène;2024-01-02;2024-01-20\r\n2;Zoë;2024-02-03;\r\n")
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    result = _run("hubspot", str(path), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "byte order mark" in result.stderr and "columns are separated by semicolons" in result.stderr
    assert "columns not used: Nom" in result.stderr
    counts = [(r["month"], r["stage"], r["count"]) for r in _rows(tmp_path / "out" / "funnel.csv")]
    assert counts == [("2024-01", "lead", "1"), ("2024-01", "mql", "1"), ("2024-02", "lead", "1"),
                      ("2024-02", "mql", "0")]
