"""Generate from any Model: per-byte (the paper's definition) or by scored spans.

Byte mode (:mod:`.byte_mode`) draws each byte from ``model.next_byte_probs(context)``.
For a compressor that distribution is nearly flat (lengths move in whole bytes, see
NOTES.md), so compressors say ``sampling_mode = "span"`` (:mod:`.span_mode`):

1. propose (:mod:`.proposals`): continuations of the current text's suffix found in
   the context the codec sees (its window: exactly the material an LZ/PPM codec can
   copy or predict from), ``span`` bytes each, from long suffix matches down to a
   single delimiter;
2. score: the codec gives every candidate its exact conditional code length
   (:mod:`compgen.compressors.spans`, one fast route per codec);
3. choose with the sampler (``p ∝ 2^(-bits/T)``) and commit the candidate's first word
   (plus the spaces/punctuation after it, :mod:`.units`), then re-plan.

A copy guard (:mod:`.guard`) rejects words that would make the output repeat
``max_copy`` bytes of the prime verbatim, or ``self_copy`` bytes of its own earlier
output (compressors love replaying both). The loop (:mod:`.loop`) is shared by every
mode; new modes register in :mod:`.modes`. ``benchmarks/sampling.py`` measures what
each part changes.
"""

from __future__ import annotations

from .byte_mode import ByteMode, byte_beam, byte_step, model_bits
from .guard import CopyGuard
from .loop import SampleResult, default_settings, generate, sample
from .modes import MODES, SampleSetup, SampleState, SamplingMode, mode_class, register_mode
from .proposals import SpanProposer, suffix_array
from .span_mode import SpanMode
from .units import WORD, first_unit, trailing_word

__all__ = ["sample", "generate", "SampleResult", "CopyGuard", "SpanProposer", "first_unit",
           "suffix_array", "trailing_word", "WORD", "default_settings",
           "MODES", "SamplingMode", "SampleSetup", "SampleState", "register_mode", "mode_class",
           "ByteMode", "SpanMode", "byte_step", "byte_beam", "model_bits"]
