"""revsim's benchmarks: the suite (:mod:`benchmarks.run`), one measurement per process
(:mod:`benchmarks.measure`), a vectorised numpy implementation of the model to compare with
(:mod:`benchmarks.numpy_reference`) and the benchmark scenarios (``benchmarks/scenarios``); an independent
company simulator for synthetic histories with a known truth (:mod:`benchmarks.company`, see its README) and
its comparison with the engine (:mod:`benchmarks.company_vs_engine`)."""
