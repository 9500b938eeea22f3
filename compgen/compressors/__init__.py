"""Compressors as Models: one adapter per codec, sharing :class:`CompressorModel`."""

from .base import CompressorModel

__all__ = ["CompressorModel"]
