"""In-context learning probes for any :class:`compgen.Model`.

Three probes, all written against the Model protocol only (``code_length``,
``code_lengths``, ``next_byte_probs``), so codecs and language models are measured
the same way:

1. :mod:`.curve` -- in-context compression curve: bits/byte by position in a chunk.
2. :mod:`.tasks` + :mod:`.scoring` -- few-shot tasks scored by conditional code length
   of each candidate answer (multiple choice, fair ties) and by greedy exact match.
3. :mod:`.ncd` -- normalised compression distance + kNN classification.

:mod:`.runner` spreads the work over processes and caches every item's result.
"""

from .tasks import TASKS, PromptFormat, make_items
from .scoring import score_choice, greedy_exact_match

__all__ = ["TASKS", "PromptFormat", "make_items", "score_choice", "greedy_exact_match"]
