"""Model -> compressor: entropy coders and the verifying container."""

from .container import ModelCompressor, decompress, read_header

__all__ = ["ModelCompressor", "decompress", "read_header"]
