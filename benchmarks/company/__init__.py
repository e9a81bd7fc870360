"""An independent company simulator: synthetic company histories whose true parameters are known.

A straightforward numpy simulation of the model of ``docs/model.md`` (sections 1-4 and 9-10), written from
the documentation and not from the engine: nothing here imports :mod:`revsim`, so a bug of the engine cannot
hide in the histories that calibration and forecast-accuracy work are checked against. It simulates one
company (one world: every input a constant) member by member through the funnel and customer by customer
after the sale.

>>> from benchmarks.company import simulate_company, shapes
>>> truth = shapes.worked_example()                  # a plain dict in revsim's scenario-file format
>>> run = simulate_company(truth, months=60, seed=1)
>>> run.months[0], run.months[-1]
('2022-01', '2026-12')
>>> bool(run.series("arr")[-1] > 1e6)
True

``run.write_history(directory, first_month=..., last_month=...)`` writes ``funnel.csv``, ``cohorts.csv``,
``mrr.csv`` and ``referrals.csv`` as ``revsim calibrate --history`` reads them
(:mod:`benchmarks.company.history_files`); ``run.plan_scenario(cut=...)`` returns the scenario a planner
would write at the cut (:mod:`benchmarks.company.plan`); ``run.series(name, segment=...)`` gives each flow
and stock per month (:class:`benchmarks.company.run.CompanyRun`); :func:`engine_scenario` makes the truth a
revsim scenario, to simulate the same company with the engine.

How it differs from revsim's engine in distribution
----------------------------------------------------
Everything below the random numbers themselves (numpy's samplers here, one inverted uniform per event in
the engine) follows ``docs/model.md``. Where the engine works on cohorts, this simulator follows members and
customers one by one; these are the same distributions:

* **Time in stage.** Each member draws its number of month ends in the stage when it arrives,
  ``Geometric(h) - 1`` with ``h = 1 / (1 + months)``, and whether it converts; the engine thins the stage's
  stock by ``Binomial(stock, h)`` each month, then ``Binomial(leavers, p)``. Each member leaving with
  probability ``h`` each month, independently, is the same process. Members also carry the channel (or
  loop) that brought them, which the engine does not record; it changes no count.
* **sBG churn.** Each customer draws ``theta ~ Beta(alpha, beta)`` when won and churns with it at each
  renewal; the engine draws ``Binomial(n, r_k)`` survivors with ``r_k = (beta + k - 1) / (alpha + beta + k -
  1)``, which model.md section 4.3 shows to be the same distribution.
* **Starting MRR.** Each customer draws its own MRR, ``Gamma(1/cv^2, acv/12 cv^2)``; the engine draws the
  cohort's total as ``Gamma(n/cv^2, acv/12 cv^2)``, the distribution of that sum.
* **Channel splits, onboarding failures, upgrades and downgrades, advocates** are multinomial or binomial
  draws here as there (``rng.multinomial`` instead of a chain of binomials; one uniform per customer for
  the upgrade/downgrade/neither choice instead of two binomials: the same multinomial).

Three differences are real, and none biases what a calibration estimates:

1. **MRR within a cohort.** Here every customer keeps its own MRR: churners leave with their own MRR,
   upgrades and downgrades apply to the upgrader's own MRR, the uplift to each renewing customer's. The
   engine tracks one MRR per cohort, and churners, upgraders and downgraders carry the cohort's *average*
   MRR per customer (model.md 4.4-4.5, 10). The expected movements are the same (who churns or upgrades
   is independent of MRR: ``theta`` is drawn independently of the contract value, and upgrades are drawn
   independently of both), so every rate (churned, expansion and contraction MRR over MRR), the ACV and its
   coefficient of variation (from new MRR, identical), and the cohort table's customers have the engine's
   distribution. The variances differ: a month's churned, expansion and contraction MRR here also vary with
   *which* customers moved, by a factor of about ``1 + cv^2`` of the cohort's MRR per customer (1.16 to
   1.64 for ``acv_cv`` 0.4 to 0.8), and a cohort's MRR keeps the spread of its surviving customers' contract
   values rather than a share of its starting total. This is the realistic behaviour (a billing system's
   churned MRR is the churners' own); it widens the month-to-month noise of the MRR movements and the spread
   of ARR slightly (``tests/company/test_company_vs_engine.py`` measures it), never their mean.
2. **Money in floats.** MRR is kept in floating-point currency, where the engine rounds each cohort's
   starting MRR and every movement to whole cents. The difference is below a cent per cohort and month.
   The MRR bridge closes to floating-point precision.
3. **No caps.** The engine caps runaway counts at 2^33 a month and money at 2^55 cents; a company here
   refuses more than :data:`benchmarks.company.simulate.MAX_ARRIVALS_PER_MONTH` arrivals into a stage in
   a month (members are followed one by one), far below where the engine's caps apply.

Not simulated, and refused with a :class:`ValueError` when a truth holds them: an initial book and open
pipeline (companies start from nothing at ``start``; start earlier to have a history), sales capacity,
costs, targets, correlations, levers, and any input that is not a constant.
"""

from benchmarks.company import shapes
from benchmarks.company.run import CompanyRun
from benchmarks.company.simulate import simulate_company
from benchmarks.company.truth import engine_scenario, read_truth

__all__ = ["simulate_company", "shapes", "CompanyRun", "engine_scenario", "read_truth"]
