"""The configurations the estimate tables cover: a named config at its own widths, or re-derived at N bits,
with either schedule."""

from __future__ import annotations

from dataclasses import replace

from hwsim.config import EngineConfig, Schedule, config_for_bits, load_config

__all__ = ["variant", "VARIANT_HELP"]

VARIANT_HELP = ("NAME, NAME@BITS, either with +dense or +event: a config in configs/ (or a YAML path); with "
                "@BITS the same topology, lanes and data set through hwsim.config.config_for_bits(BITS), whose "
                "schedule is event; +dense / +event sets the schedule (YAML configs say theirs, default dense)")


def variant(spec: str) -> EngineConfig:
    """``small`` -> configs/small.yaml; ``small@4`` -> its topology, lanes and data set at 4 bits;
    ``paper-784-500-10@8+dense`` -> the same with ``schedule: dense`` (the suffix is kept in the name)."""
    body, plus, sched = spec.rpartition("+") if "+" in spec else (spec, "", "")
    if plus and sched not in {s.value for s in Schedule}:
        raise ValueError(f"schedule after '+' in {spec!r} must be dense or event, like small+event, not {sched!r}")
    name, sep, bits = body.partition("@")
    base = load_config(name)
    if sep:
        if not bits.isdigit():
            raise ValueError(f"bits after '@' in {body!r} must be an integer like small@8, not {bits!r}")
        cfg = config_for_bits(int(bits), topology=base.topology, lanes=base.lanes, dataset=base.dataset)
        base = replace(cfg, name=f"{base.name}@{bits}")
    if plus:
        base = replace(base.with_schedule(sched), name=f"{base.name}+{sched}")
    return base
