"""Compressor -> Model: the other half of the loop whose first half is
:func:`compgen.model.as_compressor`.

Lives with the compressors (not in ``model.py``) because it needs the callable adapter,
and ``model.py`` must stay below every codec.
"""

from __future__ import annotations

from ..model import CodeLengthModel, Model
from .callable import CallableModel


def as_model(obj, name: str | None = None, **kwargs) -> Model:
    """Anything compressor-like -> Model.

    Accepts a Model (returned as is), a spec string (``"zstd:level=19"``), a compressor made
    by :func:`as_compressor` or its bound ``compress`` (the Model it came from: the loop
    Model -> compressor -> Model is the identity), an object offering fractional code
    lengths (``code_length(data, context) -> bits``: a Model over those exact lengths), or
    any callable ``bytes -> bytes`` compressor (byte-granular lengths).
    """
    if isinstance(obj, Model):
        return obj
    if isinstance(obj, str):
        from ..registry import load

        return load(obj, **kwargs)
    source = _model_behind(obj)
    if source is not None:
        return source
    if callable(getattr(obj, "code_length", None)):
        return CodeLengthModel(obj, name=name)
    if callable(obj):
        return CallableModel(obj, name=name, **kwargs)
    raise TypeError(f"cannot make a Model from {type(obj).__name__}")


def _model_behind(obj) -> "Model | None":
    """The Model a compressor (or its bound compress method) codes with, if it says so."""
    owner = getattr(obj, "__self__", obj)  # bound method -> its object
    if getattr(obj, "__func__", None) is not None and getattr(obj, "__name__", "") != "compress":
        return None
    if isinstance(owner, Model) and owner is not obj:  # a codec Model's own compress: that Model
        return owner
    model = getattr(owner, "model", None)
    return model if isinstance(model, Model) and callable(getattr(owner, "compress", None)) else None
