"""rtl: the Amaranth RTL of the DRTP learning engine, built from hwsim's config and format objects."""

from .engine import DrtpEngine

__all__ = ["DrtpEngine"]
