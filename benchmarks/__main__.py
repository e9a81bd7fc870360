"""``python -m benchmarks [--quick]``: run revsim's benchmark suite (see :mod:`benchmarks.run`)."""

from benchmarks.run import main

main()
