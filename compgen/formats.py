"""Every coder format a .cg file can name, put into the container's table at import.

Each family owns its formats (``coding/byte_coder``: byte coders and codec models;
``lm/settings``: the token LM's lockstep coder; ``lm/seven_bit``: token LMs on media
bytes); this module sits above them all so that ``coding/`` never imports a model family.
All three are torch-free: registering them costs no model load. ``compgen/__init__``
imports this module, so any use of the package sees a full table.
"""

from __future__ import annotations

from .coding import byte_coder
from .coding.format import register_coder
from .lm import settings as lm_settings
from .lm import seven_bit

for _fmt in (*byte_coder.FORMATS, *lm_settings.FORMATS, *seven_bit.FORMATS):
    register_coder(_fmt)
