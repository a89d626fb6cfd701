"""Maison DOTE: GDPR registers of a territory compiled into a public transparency site."""

__version__ = "0.1.0"
