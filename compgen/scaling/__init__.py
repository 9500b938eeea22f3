"""The scaling study (`cgz scaling`): byte LMs of many sizes trained with token-budget
checkpoints, every checkpoint evaluated on held-out text, image patches and audio chunks,
power-law fits with bootstrap intervals, the compute frontier, the adjusted-rate view,
tables and figures.

Modules, in the order a study runs them:

- :mod:`.plan`        what to run: sizes -> shapes, checkpoint budgets, presets, the work units
- :mod:`.train_units` one training run (one size, all its checkpoints) as a pure work unit
- :mod:`.evaluate`    teacher-forced bits per chunk, coded-and-verified chunks, ICL accuracy
- :mod:`.study`       runs the units through :mod:`compgen.executors`, one result file per unit
- :mod:`.fits`        L(N) per checkpoint, the joint forms, bootstrap over evaluation chunks
- :mod:`.frontier`, :mod:`.adjusted`   compute frontier; adjusted rate vs data size
- :mod:`.tokenize`    the tokenization study (needs :mod:`compgen.lm.bpe`)
- :mod:`.tables`, :mod:`.figures`, :mod:`.report`   scaling.json, markdown/CSV, PNGs
"""
