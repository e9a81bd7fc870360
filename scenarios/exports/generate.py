"""Generate the sample exports in this directory: one simulated company, as each system would export it.

Run from the repository root::

    python scenarios/exports/generate.py

Larkspur Software (a made-up B2B SaaS company, anonymised: ids are random, e-mails are example.com) is
simulated contact by contact and subscription by subscription, with a fixed seed:

* **CRM** (2024-01 to 2026-12): leads arrive every month through inbound (organic and paid search, direct
  traffic) and outbound (offline sources) channels, in two segments (company size 1-49: smb, 50+:
  mid_market); each lead may become a marketing qualified lead, a sales qualified lead, an opportunity (a
  deal is created), and a won or lost deal, each after a random delay. Written as HubSpot's contacts and
  deals exports (``hubspot_contacts.csv``, ``hubspot_deals.csv``) and Salesforce's Opportunity and
  OpportunityHistory (``salesforce_opportunities.csv``, ``salesforce_opportunity_history.csv``).
* **Billing** (2023-01 to 2026-12): each won deal becomes a customer (smb after a 14-day free trial; some lost
  smb deals had a trial that was never paid), plus the customers of 2023, before the CRM. Small companies
  pay monthly (a fifth annually) for Starter, Growth or Pro, and may add a monthly analytics add-on;
  mid-market companies pay per seat, annually. At each renewal a customer may churn, upgrade, downgrade,
  add or drop the add-on (mid-market: change its seats); churned small companies sometimes come back.
  Every change happens at a renewal, so a customer's MRR changes at most once a month. Written as Stripe's
  subscriptions and invoice line items exports, Chargebee's subscriptions export and monthly MRR summary,
  and ChartMogul's MRR movements.

The simulation keeps its own books of what happened: the entries into each stage per month, segment and
channel, and the MRR movements, MRR and cohorts per month and segment, classified from what each event is
(a first subscription is new business, a cancelled add-on is a contraction...). It writes them to
``truth/``; ``tests/importers/test_round_trip.py`` checks that ``revsim import`` reads the exports back into
exactly these numbers, to the cent.

The seed is fixed: running the script again writes the same files.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import string
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 20240101
CRM_START = dt.date(2024, 1, 1)
BILLING_START = dt.date(2023, 1, 1)
END = dt.date(2027, 1, 1)  # the day of the exports: nothing on or after it has happened
CRM_MONTHS = 36
LEADS_PER_MONTH = {"inbound": 20.0, "outbound": 7.0}
SOURCES = {"inbound": ["Organic Search", "Paid Search", "Direct Traffic"], "outbound": ["Offline Sources"]}
SIZES = {"smb": ["1-10", "11-49"], "mid_market": ["50-199", "200-499"]}
SEASONALITY = [0.9, 1.0, 1.1, 1.0, 1.0, 0.9, 0.8, 0.8, 1.1, 1.1, 1.1, 1.0]
#: stage -> (probability of reaching it from the stage before, mean days after the stage before)
PROGRESSION = {"mql": (0.55, 12.0), "sql": (0.55, 15.0), "opportunity": (0.7, 10.0)}
WIN = {"smb": (0.40, 30.0), "mid_market": (0.30, 75.0)}
#: plan -> (monthly price in cents, months per billing period)
PLANS = {"starter_monthly": (9900, 1), "growth_monthly": (24900, 1), "pro_monthly": (49900, 1),
         "starter_annual": (8250, 12), "growth_annual": (20750, 12), "pro_annual": (41500, 12),
         "team_annual": (4000, 12), "analytics_addon": (4900, 1)}
TIERS = ["starter", "growth", "pro"]
PLAN_NAMES = {"starter": "Starter", "growth": "Growth", "pro": "Pro", "team": "Team", "analytics": "Analytics add-on"}


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = (dt.date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month + 1, min(day.day, last))


def month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def month_label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


# ------------------------------------------------------------------------------------------------ company


@dataclass
class Contact:
    id: int
    email: str
    segment: str
    size: str
    channel: str
    source: str
    created: dt.datetime
    stages: dict[str, dt.datetime] = field(default_factory=dict)  # lead, mql, sql, opportunity
    deal: Deal | None = None


@dataclass
class Deal:
    id: int
    sf_id: str
    contact: Contact
    created: dt.datetime
    qualified: dt.datetime | None
    closed: dt.datetime | None  # None: still open at the export
    won: bool
    amount: int  # cents, the annual contract value estimated


@dataclass
class Subscription:
    id: str
    cb_id: str
    customer: Customer
    plan: str
    quantity: int
    created: dt.date
    trial_end: dt.date | None
    paid_from: dt.date
    ended: dt.date | None = None
    canceled_at: dt.date | None = None
    periods: list[tuple[dt.date, dt.date, str, int]] = field(default_factory=list)  # start, end, plan, quantity

    @property
    def months(self) -> int:
        return PLANS[self.plan][1]

    def mrr(self, plan: str | None = None, quantity: int | None = None) -> int:
        return PLANS[plan or self.plan][0] * (self.quantity if quantity is None else quantity)


@dataclass
class Customer:
    id: str
    uuid: str
    cb_id: str
    name: str
    segment: str
    size: str
    subscriptions: list[Subscription] = field(default_factory=list)


class Company:
    """The simulated company, with its books of what happened."""

    def __init__(self, seed: int = SEED) -> None:
        self.rng = np.random.default_rng(seed)
        self.contacts: list[Contact] = []
        self.deals: list[Deal] = []
        self.customers: list[Customer] = []
        self.events: list[tuple[dt.date, Customer, str, int]] = []  # day, customer, kind, amount in cents
        self.funnel: Counter = Counter()  # (month, stage, segment, channel) -> entries
        self.used_ids: set[str] = set()

    # ---------------------------------------------------------------------------------------- ids and times

    def token(self, prefix: str, length: int, alphabet: str = string.ascii_letters + string.digits) -> str:
        while True:
            text = prefix + "".join(alphabet[i] for i in self.rng.integers(0, len(alphabet), length))
            if text not in self.used_ids:
                self.used_ids.add(text)
                return text

    def moment(self, day: dt.date) -> dt.datetime:
        seconds = int(self.rng.integers(8 * 3600, 19 * 3600))
        return dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=seconds)

    def later(self, start: dt.datetime, mean_days: float) -> dt.datetime:
        days = 1 + float(self.rng.exponential(mean_days))
        return start + dt.timedelta(days=days, seconds=int(self.rng.integers(-3600, 3600)))

    # ------------------------------------------------------------------------------------------------ CRM

    def run_crm(self) -> None:
        record = 51_000_001
        for t in range(CRM_MONTHS):
            first = add_months(CRM_START, t)
            days = (add_months(first, 1) - first).days
            for channel, mean in LEADS_PER_MONTH.items():
                for _ in range(int(self.rng.poisson(mean * SEASONALITY[first.month - 1]))):
                    record += int(self.rng.integers(1, 40))
                    segment = "smb" if self.rng.random() < 0.7 else "mid_market"
                    created = self.moment(first + dt.timedelta(days=int(self.rng.integers(0, days))))
                    sources = SOURCES[channel]
                    contact = Contact(record, f"contact{record}@example.com", segment,
                                      sources and SIZES[segment][int(self.rng.integers(0, 2))], channel,
                                      sources[int(self.rng.integers(0, len(sources)))], created)
                    self.contacts.append(contact)
                    self.progress(contact)

    def progress(self, contact: Contact) -> None:
        contact.stages["lead"] = contact.created
        when = contact.created
        for stage, (probability, mean_days) in PROGRESSION.items():
            if self.rng.random() >= probability:
                return
            when = self.later(when, mean_days)
            if when.date() >= END:
                return
            contact.stages[stage] = when
        deal_id = 9_100_000_000 + len(self.deals) * 37 + int(self.rng.integers(0, 30))
        qualified = self.later(when, 6.0) if self.rng.random() < 0.8 else None
        win_probability, mean_days = WIN[contact.segment]
        closed = self.later(when, mean_days)
        won = bool(self.rng.random() < win_probability)
        if qualified is not None and (qualified >= closed or qualified.date() >= END):
            qualified = None
        acv = (int(self.rng.choice([99, 249, 499])) * 12 if contact.segment == "smb"
               else 480 * int(self.rng.integers(10, 81))) * 100
        deal = Deal(deal_id, self.token("0065g00000", 8, string.ascii_letters + string.digits), contact, when,
                    qualified, closed if closed.date() < END else None, won, acv)
        contact.deal = deal
        self.deals.append(deal)

    def count_funnel(self) -> None:
        for contact in self.contacts:
            for stage, when in contact.stages.items():
                if stage != "opportunity":
                    self.funnel[(month_index(when.date()), stage, contact.segment, contact.channel)] += 1
        for deal in self.deals:
            contact = deal.contact
            self.funnel[(month_index(deal.created.date()), "opportunity", contact.segment, contact.channel)] += 1
            if deal.closed is not None and deal.won:
                self.funnel[(month_index(deal.closed.date()), "won", contact.segment, contact.channel)] += 1

    # -------------------------------------------------------------------------------------------- billing

    def new_customer(self, segment: str, size: str, name_number: int) -> Customer:
        customer = Customer(self.token("cus_", 14), self.token("", 8, "0123456789abcdef"),
                            self.token("", 10, string.ascii_letters),
                            f"Customer {name_number:04d}", segment, size)
        self.customers.append(customer)
        return customer

    def subscribe(self, customer: Customer, plan: str, quantity: int, start: dt.date, trial_days: int = 0
                  ) -> Subscription:
        trial_end = start + dt.timedelta(days=trial_days) if trial_days else None
        sub = Subscription(self.token("sub_", 14), self.token("", 10, string.ascii_letters + string.digits),
                           customer, plan, quantity, start, trial_end, trial_end or start)
        customer.subscriptions.append(sub)
        return sub

    def run_billing(self) -> None:
        number = 1
        starts: list[tuple[dt.date, str, str, bool]] = []  # paid start, segment, size, trial
        for t in range(12):  # the customers of 2023, before the CRM
            first = add_months(BILLING_START, t)
            for _ in range(int(self.rng.poisson(2.5))):
                segment = "smb" if self.rng.random() < 0.7 else "mid_market"
                day = first + dt.timedelta(days=int(self.rng.integers(0, 28)))
                starts.append((day, segment, SIZES[segment][int(self.rng.integers(0, 2))], False))
        for deal in self.deals:
            if deal.closed is None:
                continue
            if deal.won:
                starts.append((deal.closed.date(), deal.contact.segment, deal.contact.size, True))
            elif deal.contact.segment == "smb" and self.rng.random() < 0.3:
                customer = self.new_customer("smb", deal.contact.size, number)
                number += 1
                sub = self.subscribe(customer, "growth_monthly", 1, deal.closed.date(), trial_days=14)
                sub.ended = sub.canceled_at = sub.trial_end
        starts.sort(key=lambda s: s[0])
        for day, segment, size, trial in starts:
            customer = self.new_customer(segment, size, number)
            number += 1
            if segment == "smb":
                tier = TIERS[int(self.rng.choice(3, p=[0.5, 0.35, 0.15]))]
                plan = f"{tier}_{'annual' if self.rng.random() < 0.2 else 'monthly'}"
                sub = self.subscribe(customer, plan, 1, day, trial_days=14 if trial else 0)
            else:
                sub = self.subscribe(customer, "team_annual", int(self.rng.integers(10, 81)), day)
            if sub.paid_from < END:
                self.events.append((sub.paid_from, customer, "new", sub.mrr()))
        for customer in list(self.customers):
            self.bill(customer)

    def bill(self, customer: Customer) -> None:
        """Run a customer's subscriptions period by period up to the export day, deciding at each renewal."""
        if not customer.subscriptions or customer.subscriptions[0].ended is not None:
            return
        main = customer.subscriptions[0]
        addon: Subscription | None = None
        day = main.paid_from
        churned_on: dt.date | None = None
        while day < END:
            if churned_on is not None:  # a churned small company may come back
                month_start = add_months(dt.date(day.year, day.month, 1), 1)
                if month_start >= END:
                    return
                if (customer.segment == "smb" and month_index(month_start) - month_index(churned_on) >= 2
                        and self.rng.random() < 0.03):
                    back = month_start + dt.timedelta(days=int(self.rng.integers(0, 28)))
                    if back >= END:
                        return
                    main = self.subscribe(customer, f"{TIERS[int(self.rng.integers(0, 3))]}_monthly", 1, back)
                    self.events.append((back, customer, "reactivation", main.mrr()))
                    churned_on, addon, day = None, None, back
                    continue
                day = month_start
                continue
            # a period of the main subscription (and of the add-on, on the same days) starts on `day`
            end = add_months(main.paid_from, main.months * (len(main.periods) + 1))
            main.periods.append((day, end, main.plan, main.quantity))
            if addon is not None:
                addon.periods.append((day, end, addon.plan, 1))
            if end >= END:
                return
            churned_on = self.renew(customer, main, addon, end)
            if churned_on is not None:
                addon = None
            elif customer.segment == "smb" and main.months == 1:
                addon = self.addon_change(customer, main, addon, end)
            day = end

    def renew(self, customer: Customer, main: Subscription, addon: Subscription | None, day: dt.date
              ) -> dt.date | None:
        """Decide at a renewal of the main subscription: churn (returns the day), or a change of plan or seats."""
        rng = self.rng
        annual = main.months == 12
        churn = (0.10 if customer.segment == "mid_market" else 0.12) if annual else 0.03
        if rng.random() < churn:
            lost = main.mrr() + (addon.mrr() if addon is not None else 0)
            for sub in (main, addon):
                if sub is not None:
                    sub.ended = day
                    sub.canceled_at = day - dt.timedelta(days=int(rng.integers(1, 20)))
            self.events.append((day, customer, "churn", lost))
            return day
        before = main.mrr()
        if customer.segment == "mid_market":
            draw = rng.random()
            if draw < 0.35:
                main.quantity = int(np.ceil(main.quantity * rng.uniform(1.1, 1.5)))
            elif draw < 0.50:
                main.quantity = max(5, int(main.quantity * rng.uniform(0.7, 0.9)))
        else:
            tier, period = main.plan.split("_")
            level = TIERS.index(tier)
            draw = rng.random()
            up, down = (0.10, 0.05) if annual else (0.02, 0.01)
            if draw < up and level < 2:
                main.plan = f"{TIERS[level + 1]}_{period}"
            elif up <= draw < up + down and level > 0:
                main.plan = f"{TIERS[level - 1]}_{period}"
        after = main.mrr()
        if after != before:
            main.changed = day  # type: ignore[attr-defined]
            self.events.append((day, customer, "expansion" if after > before else "contraction", abs(after - before)))
        return None

    def addon_change(self, customer: Customer, main: Subscription, addon: Subscription | None, day: dt.date
                     ) -> Subscription | None:
        """Add or drop the monthly analytics add-on at a renewal without another change (one change a month)."""
        if getattr(main, "changed", None) == day:
            return addon
        if addon is None and self.rng.random() < 0.02:
            addon = self.subscribe(customer, "analytics_addon", 1, day)
            self.events.append((day, customer, "expansion", addon.mrr()))
            return addon
        if addon is not None and self.rng.random() < 0.06:
            addon.ended = day
            addon.canceled_at = day - dt.timedelta(days=int(self.rng.integers(1, 20)))
            self.events.append((day, customer, "contraction", addon.mrr()))
            return None
        return addon

    # ----------------------------------------------------------------------------------------- the books

    def books(self) -> tuple[list[list[str]], list[list[str]], list[list[str]]]:
        """funnel.csv, mrr.csv and cohorts.csv rows as the simulation counted them."""
        funnel = [["month", "stage", "segment", "channel", "count"]]
        first, last = month_index(CRM_START), month_index(END) - 1
        segments = ["mid_market", "smb"]
        for t in range(first, last + 1):
            for stage in ("lead", "mql", "sql", "opportunity", "won"):
                for segment in segments:
                    for channel in ("inbound", "outbound"):
                        funnel.append([month_label(t), stage, segment, channel,
                                       str(self.funnel.get((t, stage, segment, channel), 0))])
        sums: dict[tuple[int, str], Counter] = defaultdict(Counter)
        level: Counter = Counter()
        spells: list[tuple[Customer, int, int | None]] = []
        open_spell: dict[str, int] = {}
        for day, customer, kind, amount in sorted(self.events, key=lambda e: (e[0], e[1].id)):
            t = month_index(day)
            sums[(t, customer.segment)][kind] += amount
            sign = -1 if kind in ("contraction", "churn") else 1
            level[customer.id] += sign * amount
            if kind in ("new", "reactivation"):
                open_spell[customer.id] = len(spells)
                spells.append((customer, t, None))
            elif kind == "churn":
                i = open_spell.pop(customer.id)
                spells[i] = (spells[i][0], spells[i][1], t)
        mrr = [["month", "segment", "new", "expansion", "contraction", "churn", "reactivation", "mrr"]]
        month_end_level: dict[tuple[int, str], int] = {}
        running: Counter = Counter()
        by_month = defaultdict(list)
        for day, customer, kind, amount in self.events:
            by_month[month_index(day)].append((customer, kind, amount))
        customer_level: dict[tuple[str, int], int] = {}
        per_customer: Counter = Counter()
        for t in range(month_index(BILLING_START), last + 1):
            for customer, kind, amount in by_month.get(t, []):
                sign = -1 if kind in ("contraction", "churn") else 1
                running[customer.segment] += sign * amount
                per_customer[customer.id] += sign * amount
            for segment in segments:
                month_end_level[(t, segment)] = running[segment]
            for customer in self.customers:
                customer_level[(customer.id, t)] = per_customer[customer.id]
            for segment in segments:
                row = sums.get((t, segment), Counter())
                mrr.append([month_label(t), segment,
                            *(_money(row[k]) for k in ("new", "expansion", "contraction", "churn", "reactivation")),
                            _money(month_end_level[(t, segment)])])
        cells: dict[tuple[str, int], dict[int, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
        for customer, start, stop in spells:
            stop_at = last if stop is None else min(stop - 1, last)
            cell = cells[(customer.segment, start)]
            cell[0][0] += 1
            cell[0][1] += customer_level[(customer.id, start)]
            for t in range(start + 1, stop_at + 1):
                cell[t - start][0] += 1
                cell[t - start][1] += customer_level[(customer.id, t)]
        cohorts = [["cohort", "segment", "period", "customers", "mrr"]]
        for segment, start in sorted(cells):
            for period in range(last - start + 1):
                n, value = cells[(segment, start)].get(period, (0, 0))
                cohorts.append([month_label(start), segment, str(period), str(n), _money(value)])
        return funnel, mrr, cohorts


def _money(cents: int) -> str:
    whole, part = divmod(abs(int(cents)), 100)
    return f"{'-' if cents < 0 else ''}{whole}.{part:02d}"


# ---------------------------------------------------------------------------------------------- the exports


def _hubspot_time(when: dt.datetime | None) -> str:
    return "" if when is None else when.strftime("%Y-%m-%d %H:%M")


def hubspot_contacts(company: Company) -> list[list[str]]:
    rows = [["Record ID", "Email", "Create Date", "Lifecycle Stage", "Became a Lead Date",
             "Became a Marketing Qualified Lead Date", "Became a Sales Qualified Lead Date",
             "Became an Opportunity Date", "Became a Customer Date", "Company size", "Original Source"]]
    labels = {"lead": "Lead", "mql": "Marketing Qualified Lead", "sql": "Sales Qualified Lead",
              "opportunity": "Opportunity", "customer": "Customer"}
    for c in company.contacts:
        customer_date = c.deal.closed if c.deal and c.deal.won else None
        current = "customer" if customer_date else list(c.stages)[-1]
        rows.append([str(c.id), c.email, _hubspot_time(c.created), labels[current],
                     *(_hubspot_time(c.stages.get(s)) for s in ("lead", "mql", "sql", "opportunity")),
                     _hubspot_time(customer_date), c.size, c.source])
    return rows


def hubspot_deals(company: Company) -> list[list[str]]:
    rows = [["Record ID", "Deal Name", "Pipeline", "Deal Stage", "Amount", "Create Date", "Close Date",
             'Date entered "Appointment Scheduled (Sales Pipeline)"', 'Date entered "Qualified To Buy (Sales Pipeline)"',
             'Date entered "Closed Won (Sales Pipeline)"', 'Date entered "Closed Lost (Sales Pipeline)"',
             "Company size", "Original Source Type"]]
    for d in company.deals:
        if d.closed is not None:
            stage = "Closed Won" if d.won else "Closed Lost"
        else:
            stage = "Qualified To Buy" if d.qualified else "Appointment Scheduled"
        rows.append([str(d.id), f"Deal {d.id % 100000:05d}", "Sales Pipeline", stage, _money(d.amount),
                     _hubspot_time(d.created), d.closed.strftime("%Y-%m-%d") if d.closed else "",
                     _hubspot_time(d.created), _hubspot_time(d.qualified),
                     _hubspot_time(d.closed if d.won else None), _hubspot_time(None if d.won else d.closed),
                     d.contact.size, d.contact.source])
    return rows


def _sf_time(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


SF_SOURCES = {"Organic Search": "Web", "Paid Search": "Advertisement", "Direct Traffic": "Web",
              "Offline Sources": "Outbound Prospecting"}


def salesforce(company: Company) -> tuple[list[list[str]], list[list[str]]]:
    opportunities = [["Id", "Name", "StageName", "Amount", "CloseDate", "CreatedDate", "IsClosed", "IsWon",
                      "LeadSource", "Segment__c"]]
    history = [["Id", "OpportunityId", "CreatedDate", "StageName", "Amount", "CloseDate", "Probability"]]
    rng = np.random.default_rng(SEED + 1)
    for d in company.deals:
        expected_close = (d.closed or d.created + dt.timedelta(days=60)).strftime("%Y-%m-%d")
        steps = [(d.created, "Prospecting", 10)]
        if d.qualified:
            steps.append((d.qualified, "Qualification", 20))
            if d.closed and rng.random() < 0.6:
                middle = d.qualified + (d.closed - d.qualified) / 2
                steps.append((middle, "Proposal/Price Quote", 75))
                if rng.random() < 0.3:  # an amount change: a row that repeats the stage
                    steps.append((middle + (d.closed - middle) / 2, "Proposal/Price Quote", 75))
        if d.closed:
            steps.append((d.closed, "Closed Won" if d.won else "Closed Lost", 100 if d.won else 0))
        stage = steps[-1][1]
        is_closed = d.closed is not None
        opportunities.append([d.sf_id, f"Deal {d.id % 100000:05d}", stage, _money(d.amount), expected_close,
                              _sf_time(d.created), str(is_closed).lower(), str(is_closed and d.won).lower(),
                              SF_SOURCES[d.contact.source], "SMB" if d.contact.segment == "smb" else "Mid-Market"])
        for when, name, probability in steps:
            history.append([company.token("008", 15), d.sf_id, _sf_time(when), name, _money(d.amount), expected_close,
                            str(probability)])
    return opportunities, history


def stripe(company: Company) -> tuple[list[list[str]], list[list[str]]]:
    subscriptions = [["id", "Customer ID", "Customer Email", "Plan", "Product", "Quantity", "Currency", "Interval",
                      "Amount", "Status", "Created (UTC)", "Start (UTC)", "Current Period Start (UTC)",
                      "Current Period End (UTC)", "Trial Start (UTC)", "Trial End (UTC)", "Canceled At (UTC)",
                      "Cancel At Period End", "Ended At (UTC)", "company_size (metadata)"]]
    lines = [["Invoice ID", "Invoice Line Item ID", "Customer", "Subscription", "Description", "Amount", "Currency",
              "Period Start (UTC)", "Period End (UTC)", "Proration", "Invoice Status"]]
    day_text = lambda d: "" if d is None else f"{d:%Y-%m-%d} 00:00"  # noqa: E731
    for customer in company.customers:
        for sub in customer.subscriptions:
            last = sub.periods[-1] if sub.periods else None
            ended = sub.ended if sub.ended is not None and sub.ended < END else None
            status = "canceled" if ended else ("trialing" if sub.trial_end and sub.trial_end >= END else "active")
            period_start, period_end = (last[0], last[1]) if last else (sub.created, sub.trial_end)
            tier = sub.plan.split("_")[0]
            unit = PLANS[sub.plan][0] * PLANS[sub.plan][1]
            subscriptions.append([
                sub.id, customer.id, f"billing+{customer.cb_id[:8].lower()}@example.com", sub.plan,
                PLAN_NAMES[tier], str(sub.quantity), "usd", "year" if sub.months == 12 else "month", _money(unit),
                status, day_text(sub.created), day_text(sub.created), day_text(period_start), day_text(period_end),
                day_text(sub.created if sub.trial_end else None), day_text(sub.trial_end),
                day_text(sub.canceled_at if sub.canceled_at and sub.canceled_at < END else None),
                "false", day_text(ended), customer.size])
            if sub.trial_end:
                lines.append([company.token("in_", 10), company.token("il_", 10), customer.id, sub.id,
                              f"Trial period for {PLAN_NAMES[tier]}", "0.00", "usd", day_text(sub.created),
                              day_text(sub.trial_end), "false", "paid"])
            for start, end, plan, quantity in sub.periods:
                amount = PLANS[plan][0] * PLANS[plan][1] * quantity
                tier = plan.split("_")[0]
                lines.append([company.token("in_", 10), company.token("il_", 10), customer.id, sub.id,
                              f"{quantity} × {PLAN_NAMES[tier]}", _money(amount), "usd",
                              day_text(start), day_text(end), "false", "paid"])
    return subscriptions, lines


def chargebee(company: Company) -> tuple[list[list[str]], list[list[str]]]:
    subscriptions = [["subscriptions.id", "subscriptions.customer_id", "subscriptions.plan_id",
                      "subscriptions.plan_quantity", "subscriptions.status", "subscriptions.mrr",
                      "subscriptions.currency_code", "subscriptions.created_at", "subscriptions.started_at",
                      "subscriptions.activated_at", "subscriptions.trial_end", "subscriptions.cancelled_at",
                      "customers.cf_company_size"]]
    summary = [["id", "customer_id", "subscription_id", "reporting_month", "status", "billing_currency_code",
                "mrr_billing_currency", "reporting_currency_code", "exchange_rate"]]
    text = lambda d: "" if d is None else f"{d:%Y-%m-%d} 00:00:00"  # noqa: E731
    for customer in company.customers:
        for sub in customer.subscriptions:
            ended = sub.ended if sub.ended is not None and sub.ended < END else None
            status = "cancelled" if ended else ("in_trial" if sub.trial_end and sub.trial_end >= END else "active")
            current = sub.periods[-1] if sub.periods else None
            current_mrr = PLANS[current[2]][0] * current[3] if current else 0
            subscriptions.append([sub.cb_id, customer.cb_id, sub.plan, str(sub.quantity), status,
                                  _money(0 if ended else current_mrr), "USD", text(sub.created), text(sub.created),
                                  text(sub.paid_from if sub.paid_from < END else None), text(sub.trial_end),
                                  text(ended), customer.size])
            # one row per month end from the subscription's creation to its cancellation (or the export)
            t, last = month_index(sub.created), month_index(min(ended or END, END) - dt.timedelta(days=1))
            while t <= last:
                month_end = add_months(dt.date(t // 12, t % 12 + 1, 1), 1) - dt.timedelta(days=1)
                value, state = 0, "in_trial"
                for start, end, plan, quantity in sub.periods:
                    if start <= month_end < end:
                        value, state = PLANS[plan][0] * quantity, "active"
                if ended is not None and ended <= month_end:
                    state = "cancelled"
                summary.append([str(len(summary)), customer.cb_id, sub.cb_id,
                                f"{month_end:%Y-%m-%d}", state, "USD", _money(value), "USD", "1.0"])
                t += 1
    return subscriptions, summary


def chartmogul(company: Company) -> list[list[str]]:
    rows = [["DATE", "CUSTOMER_NAME", "CUSTOMER_UUID", "CUSTOMER_EXTERNAL_ID", "MRR_MOVEMENT", "MRR", "MOVEMENT_TYPE",
             "CURRENCY_CODE", "PLAN_EXTERNAL_ID"]]
    kinds = {"new": "new_biz", "expansion": "expansion", "contraction": "contraction", "churn": "churn",
             "reactivation": "reactivation"}
    level: Counter = Counter()
    for day, customer, kind, amount in sorted(company.events, key=lambda e: (e[0], e[1].id)):
        sign = -1 if kind in ("contraction", "churn") else 1
        level[customer.id] += sign * amount
        plan = next((s.plan for s in reversed(customer.subscriptions) if s.created <= day and s.plan !=
                     "analytics_addon"), customer.subscriptions[0].plan)
        rows.append([f"{day:%Y-%m-%d}T00:00:00Z", customer.name, f"cus_{customer.uuid}", customer.id,
                     str(sign * amount), str(level[customer.id]), kinds[kind], "USD", plan])
    return rows


def csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def simulate(seed: int = SEED) -> Company:
    company = Company(seed)
    company.run_crm()
    company.count_funnel()
    company.run_billing()
    return company


def render(company: Company) -> dict[str, str]:
    """Every file this script writes (exports, and the simulation's books under truth/), by name."""
    opportunities, history = salesforce(company)
    stripe_subscriptions, stripe_lines = stripe(company)
    chargebee_subscriptions, chargebee_summary = chargebee(company)
    funnel, mrr, cohorts = company.books()
    tables = {
        "hubspot_contacts.csv": hubspot_contacts(company), "hubspot_deals.csv": hubspot_deals(company),
        "salesforce_opportunities.csv": opportunities, "salesforce_opportunity_history.csv": history,
        "stripe_subscriptions.csv": stripe_subscriptions, "stripe_invoice_lines.csv": stripe_lines,
        "chargebee_subscriptions.csv": chargebee_subscriptions, "chargebee_mrr_summary.csv": chargebee_summary,
        "chartmogul_mrr_movements.csv": chartmogul(company),
        "truth/funnel.csv": funnel, "truth/mrr.csv": mrr, "truth/cohorts.csv": cohorts,
    }
    return {name: csv_text(rows) for name, rows in tables.items()}


def main() -> None:
    company = simulate()
    files = render(company)
    (HERE / "truth").mkdir(exist_ok=True)
    for name, text in files.items():
        (HERE / name).write_text(text, encoding="utf-8")
        print(f"{name:<40} {len(text.encode()) / 1024:7.1f} KiB")
    print(f"{'total':<40} {sum(len(t.encode()) for t in files.values()) / 1024:7.1f} KiB")
    print(f"contacts {len(company.contacts)}, deals {len(company.deals)}, customers {len(company.customers)}")
    rows = [line.split(",") for line in files["truth/mrr.csv"].splitlines()[-2:]]
    print("MRR at the end of the history: " + "; ".join(f"{row[1]} {row[7]}" for row in rows))


if __name__ == "__main__":
    sys.exit(main())
