"""Benchmarks: ``make bench`` (``python -m benchmarks``); each module's ``run(quick)`` returns rows."""

BENCHMARKS = ["bench_fit", "bench_laplace", "bench_nuts", "bench_sweep"]
