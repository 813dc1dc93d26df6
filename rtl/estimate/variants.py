"""The configurations the estimate tables cover: a named config at its own widths, or re-derived at N bits."""

from __future__ import annotations

from dataclasses import replace

from hwsim.config import EngineConfig, config_for_bits, load_config

__all__ = ["variant", "VARIANT_HELP"]

VARIANT_HELP = ("NAME or NAME@BITS: a config in configs/ (or a YAML path); with @BITS the same topology, "
                "lanes and data set through hwsim.config.config_for_bits(BITS)")


def variant(spec: str) -> EngineConfig:
    """``small`` -> configs/small.yaml; ``small@4`` -> its topology, lanes and data set at 4 bits."""
    name, sep, bits = spec.partition("@")
    base = load_config(name)
    if not sep:
        return base
    if not bits.isdigit():
        raise ValueError(f"bits after '@' in {spec!r} must be an integer like small@8, not {bits!r}")
    cfg = config_for_bits(int(bits), topology=base.topology, lanes=base.lanes, dataset=base.dataset)
    return replace(cfg, name=f"{base.name}@{bits}")
