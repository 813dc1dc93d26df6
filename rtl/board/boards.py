"""The boards ``python -m rtl.board build`` knows: platform (amaranth-boards), FPGA, capacity, pins used.

Capacities are the FPGA's: an engine that needs more of any resource than the part has does not fit,
and the build says so in one sentence (:func:`rtl.board.flow.build`). The iCE40 figures are
:data:`rtl.estimate.synth.ICE40_DEVICES` (one table for the estimate and the board flows).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from ..estimate.synth import ICE40_DEVICES

__all__ = ["Board", "BOARDS", "board_names"]


@dataclass(frozen=True)
class Board:
    """One board: its amaranth-boards platform and what the flow needs to know about its FPGA."""

    name: str
    platform_path: str          # "module:Class" in amaranth_boards
    family: str                 # "ecp5" | "ice40"
    part: str                   # what messages call the FPGA
    nextpnr_device: str         # --85k, --up5k, --hx8k
    package: str                # nextpnr --package
    lut4: int
    bram: int                   # DP16KD (ECP5) / SB_RAM40_4K (iCE40)
    dsp: int                    # MULT18X18D (ECP5) / SB_MAC16 (iCE40)
    reset_button: str | None    # resource name of a button that resets the design (index 0)
    leds: int                   # LEDs of resource "led" the top drives (0..leds-1)

    def platform(self):
        module, cls = self.platform_path.split(":")
        return getattr(importlib.import_module(f"amaranth_boards.{module}"), cls)()

    @property
    def clock_hz(self) -> float:
        """The board oscillator (the platform's default clock), which the design runs from."""
        return float(self.platform().default_clk_frequency)


_UP5K, _HX8K = ICE40_DEVICES["UP5K"], ICE40_DEVICES["HX8K"]

BOARDS = {b.name: b for b in [
    # LFE5U-85F: 83,640 LUT4, 208 DP16KD, 156 MULT18X18D (Lattice DS1044)
    Board("ulx3s-85f", "ulx3s:ULX3S_85F_Platform", "ecp5", "LFE5U-85F", "85k", "CABGA381",
          83640, 208, 156, "button_fire", 8),
    Board("icebreaker", "icebreaker:ICEBreakerPlatform", "ice40", "iCE40UP5K-SG48", "up5k", "sg48",
          _UP5K["lut4"], _UP5K["ebr"], _UP5K["mac16"], "button", 2),
    Board("ice40-hx8k-b-evn", "ice40_hx8k_b_evn:ICE40HX8KBEVNPlatform", "ice40", "iCE40HX8K-CT256", "hx8k",
          "ct256", _HX8K["lut4"], _HX8K["ebr"], _HX8K["mac16"], None, 8),
]}
"""Every supported board by the name ``--board`` takes."""


def board_names() -> str:
    return ", ".join(BOARDS)
