"""How a Model is best sampled: the mode interface and its registry.

A Model names its preferred mode in :attr:`compgen.Model.sampling_mode` ("byte" by
default, "span" for compressors); ``generate(mode="auto")`` looks it up here. A mode
is a class built once per sample from a :class:`SampleSetup` whose :meth:`step`
returns the next piece of output. New modes (e.g. image or audio bytes) register
with :func:`register_mode` and plug into the same loop, guard and streaming.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import UsageError
from ..model import Model
from ..samplers import Sampler
from .guard import CopyGuard


@dataclass
class SampleSetup:
    """Everything fixed for one sample: the model, its context and the options."""

    model: Model
    scorer: object  # compgen.compressors.spans.SpanScorer, prepared with ``fixed``
    prime: bytes
    fixed: bytes  # the primed part of the context (constant for the whole sample)
    window: int
    keep: int
    span: int
    candidates: int
    pool: str = "window"
    self_proposals: bool = False
    options: dict = field(default_factory=dict)  # mode-specific extras


@dataclass
class SampleState:
    """The text so far (prompt + generated) and the recent part of it the model sees."""

    text: bytearray  # prompt + generated
    n_prompt: int
    fixed: bytes
    keep: int

    @property
    def generated(self) -> bytes:
        return bytes(self.text[self.n_prompt:])

    def recent(self) -> bytes:
        return bytes(self.text[-self.keep:]) if self.keep else b""

    def context(self) -> bytes:
        """What the model conditions on: the fixed block then the recent text."""
        return self.fixed + self.recent()


class SamplingMode:
    """One way of producing output from a Model; subclasses implement :meth:`step`."""

    #: registry key, also the ``mode`` option value
    name = ""

    def __init__(self, setup: SampleSetup):
        self.setup = setup

    @staticmethod
    def default_keep(window: int) -> int:
        """Recent bytes kept in the context when the caller does not say."""
        return window // 2

    def step(self, state: SampleState, sampler: Sampler, rng: np.random.Generator,
             guard: CopyGuard, stats: dict) -> bytes:
        """The next piece of output (at least one byte unless the mode is stuck)."""
        raise NotImplementedError


MODES: dict[str, type[SamplingMode]] = {}


def register_mode(cls: type[SamplingMode]) -> type[SamplingMode]:
    """Class decorator: make ``cls`` available as ``generate(mode=cls.name)``."""
    if not cls.name:
        raise ValueError("a sampling mode needs a name")
    MODES[cls.name] = cls
    return cls


def mode_class(mode: str, model: Model) -> type[SamplingMode]:
    """Resolve ``mode`` ("auto" = the model's own ``sampling_mode``) to its class."""
    names = list(MODES)
    if mode == "auto":
        mode = getattr(model, "sampling_mode", "byte")
    if mode not in MODES:
        listed = ", ".join(["auto"] + names[:-1]) + f" or {names[-1]}"
        raise UsageError(f"mode must be {listed} (got {mode!r})")
    return MODES[mode]
