"""Data in, bytes out: the one home of every loader (text/bytes, images, audio).

``parse_data_spec("image:photos/")`` names a modality and a path; :func:`load_units`
and :func:`iter_units` turn specs into :class:`Piece` streams (chunks or whole files);
:mod:`.image` and :mod:`.audio` hold the paper's exact transforms and their inverses.
"""

from .corpus import default_corpus
from .sources import (FILE_SLICES, DataSpec, Options, file_sources, iter_units, list_files, load_units,
                      parse_data_spec, read_modal)
from .text import (Piece, chunk_pieces, expand_paths, file_chunks, named_paths, parse_size, read_files, sample_pieces,
                   tail_start, whole_pieces)

__all__ = ["FILE_SLICES", "DataSpec", "Options", "Piece", "chunk_pieces", "default_corpus", "expand_paths",
           "file_chunks", "file_sources", "iter_units", "list_files", "load_units", "named_paths", "parse_data_spec",
           "parse_size", "read_files", "read_modal", "sample_pieces", "tail_start", "whole_pieces"]
