"""Page macros of this territory: the engine's data for hand-written pages (see dote.macros)."""

from dote.macros import define_env

__all__ = ["define_env"]
