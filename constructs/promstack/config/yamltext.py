"""Moved to :mod:`promstack.config.yamlio`; this name stays for the component modules that import it."""

from promstack.config.yamlio import dump

__all__ = ["dump"]
