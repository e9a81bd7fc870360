"""What-if analysis: paired comparisons of variants, sensitivity of ARR to every input, goal seeking.

Every command runs each variant with the same seed and draws. The engine keys each input's random stream by
its path and each process's by the draw, so draw ``i`` of a variant is draw ``i`` of the base with only what
the variant changes changed: differences are paired draw by draw.

=================================  ===========================================================
:func:`revsim.compare`             paired differences of ARR, customers, NRR... per variant
:func:`revsim.sensitivity`         inputs ranked by their influence on ARR; tornado swings
:func:`revsim.goal_seek`           the smallest lever setting that reaches a target
=================================  ===========================================================

The modules: :mod:`~revsim.whatif.runs` (running variants on common random numbers),
:mod:`~revsim.whatif.compare`, :mod:`~revsim.whatif.sensitivity`, :mod:`~revsim.whatif.goal` and
:mod:`~revsim.whatif.charts` (the paired-difference and tornado charts).
"""
