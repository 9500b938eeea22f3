"""How the LM coder's settings are packed into a .cg header (torch-free: read before the model loads)."""

from __future__ import annotations

from ..coding.container import CoderFormat, json_settings

NAME = "lm-lockstep-v2"

FORMATS = (CoderFormat(2, NAME, *json_settings(NAME)),)
