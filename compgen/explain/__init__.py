"""Where each model spends its bits: per-byte code lengths and the page that shows them.

:func:`byte_lengths` gives any Model's bits for every byte of an input (adding up to the
Model's code length); :mod:`.run` explains a data argument under several models into a
:class:`Report`; :mod:`.html` renders the self-contained page, :mod:`.media` the image
and audio pictures, :mod:`.static` the ``--png`` view. ``cgz explain`` drives them.
"""

from .lengths import ByteLengths, byte_lengths
from .report import Report

__all__ = ["ByteLengths", "Report", "byte_lengths"]
