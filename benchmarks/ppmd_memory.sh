#!/bin/bash
# Acceptance run of issue 10: `cgz compress -m ppmd` of 20 KB of text (Canterbury alice29.txt,
# first 20,000 bytes) under /usr/bin/time -v, then decompress and compare. Run it under
# `flock /tmp/compgen-cpu.lock`; takes ~9 min. The measured run is in benchmarks/results/ppmd_memory_20k.txt.
# /usr/bin/time's maximum RSS covers the worker processes too (the largest process waited for).
cd "$(dirname "$0")/.."
PY=${PY:-/work/main/.venv/bin/python}
head -c 20000 ../shared/data/canterbury/alice29.txt > /tmp/i10_a20k.txt
uptime
rm -f /tmp/i10_a20k.txt.cg /tmp/i10_a20k.out
PYTHONPATH=$PWD /usr/bin/time -v $PY -m cgz -q compress -m ppmd -k -o /tmp/i10_a20k.txt.cg /tmp/i10_a20k.txt 2> /tmp/i10_time_c.txt
echo "compress rc $?"
PYTHONPATH=$PWD /usr/bin/time -v $PY -m cgz -q decompress -c /tmp/i10_a20k.txt.cg > /tmp/i10_a20k.out 2> /tmp/i10_time_d.txt
echo "decompress rc $?"
cmp /tmp/i10_a20k.txt /tmp/i10_a20k.out && echo ROUNDTRIP_OK
ls -l /tmp/i10_a20k.txt.cg
grep -E "Maximum resident|Elapsed" /tmp/i10_time_c.txt /tmp/i10_time_d.txt
uptime
