"""revsim's benchmarks: the suite (:mod:`benchmarks.run`), one measurement per process
(:mod:`benchmarks.measure`), a vectorised numpy implementation of the model to compare with
(:mod:`benchmarks.numpy_reference`) and the benchmark scenarios (``benchmarks/scenarios``)."""
