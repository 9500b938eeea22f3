"""cgz: prediction = compression, both ways.

>>> import compgen
>>> gz = compgen.load("gzip:level=9")
>>> p = gz.next_byte_probs(b"The quick brown f")
>>> comp = compgen.as_compressor(gz)
"""

from . import formats  # noqa: F401 (fills the container's table of coder formats)
from .compressors import as_model
from .errors import CompgenError
from .model import Model, as_compressor, probs_from_bits
from .registry import load
from .coding.container import decompress
from .sampling import sample
from . import samplers

__version__ = "0.1.0"

__all__ = ["Model", "load", "as_model", "as_compressor", "decompress", "probs_from_bits", "sample", "samplers",
           "CompgenError", "__version__"]
