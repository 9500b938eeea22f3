"""Benchmarks that reproduce "Language Modeling Is Compression" (Delétang et al. 2024) on any data.

``run_bench(BenchConfig(...))`` measures real compressed sizes (codec output or the
range-coded container of any Model), whole-file and in fixed-size chunks; ``report``
renders them; ``scaling`` fits L(N) = E + A / N^alpha and the adjusted-rate view.
The unit of work is :func:`compgen.bench.unit.measure`, a pure function of
(model spec, bytes, options).
"""

from ..data import parse_size
from .runner import BenchConfig, aggregate, plan, run_bench, run_units
from .unit import measure

__all__ = ["BenchConfig", "run_bench", "run_units", "plan", "aggregate", "measure", "parse_size"]
