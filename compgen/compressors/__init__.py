"""Compressors as Models: one adapter per codec, sharing :class:`CompressorModel`;
:func:`as_model` turns anything compressor-like into a Model."""

from .base import CompressorModel
from .convert import as_model

__all__ = ["CompressorModel", "as_model"]
