"""Benchmarks that reproduce "Language Modeling Is Compression" (Delétang et al. 2024) on any data.

``run_bench(BenchConfig(...))`` measures real compressed sizes (codec output or the
range-coded container of any Model), whole-file and in fixed-size chunks; ``report``
renders them; ``scaling`` fits L(N) = E + A / N^alpha and the adjusted-rate view.
The unit of work is :func:`compgen.bench.unit.measure`, a pure function of
(model spec, bytes, options); ``run(cfg, executor=client)`` runs the units on a Dask
``distributed.Client`` or any ``concurrent.futures.Executor`` (:mod:`compgen.executors`).
"""

from ..data import parse_size
from .runner import BenchConfig, aggregate, plan, run_bench, run_units
from .unit import measure

run = run_bench  # compgen.bench.run(cfg, executor=client)

__all__ = ["BenchConfig", "run", "run_bench", "run_units", "plan", "aggregate", "measure", "parse_size"]
