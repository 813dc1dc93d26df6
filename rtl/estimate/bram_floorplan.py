"""ECP5 netlist pass: lock the DP16KD block RAMs to sites in name order, so each bank and bank group is compact.

Why: the weight RAM's banks (rtl.weight_ram) are rows of DP16KD side by side in the logic, reached
through a tree of registers. Left to itself, nextpnr's placer keeps the *bit slices* of all banks
together (the read data outweighs the address), so the 15 block RAMs of a bank and the 60 of a bank
group spread over the whole die, and one address register reached them through 14-20 ns of routing:
the paper-size engine's critical path (docs/rtl.md, Timing). Per-block-RAM register copies
(:mod:`rtl.estimate.bram_fanout`) only moved that route to the group registers. Placed in name order
(``layer0.weights.bank0.0.0``, ``...bank0.0.1``, ..., ``bank1...``) along a path through the device's
block-RAM sites that stays compact, a bank's block RAMs sit side by side and a group's four banks
next to each other; the placer then puts the bank and group registers by them, and no copies are
needed (``synth.ecp5_netlist_opt`` runs this pass instead of the copies where it can).

The site table is the device's: the rows of EBR sites as nextpnr names them (``X<x>/Y<y>/EBR<k>``,
four sites per EBR tile group; tests/test_bram_floorplan.py places a design on every one of them).
Only the LFE5U-85K's is here (the paper-size engine is the design whose block RAMs span a die; the
small engines use a handful); on another device, or when a block RAM already carries a ``BEL`` (the
user's own floorplan), the pass changes nothing and says why.
"""

from __future__ import annotations

import re

__all__ = ["EBR_SITES", "site_order", "floorplan_brams"]

EBR_SITES: dict[str, tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]] = {
    # (rows' Y, top to bottom; per EBR tile group the X of its four sites, left to right), as placed by
    # nextpnr-ecp5 (yowasp 0.x) for the LFE5U-85K: 4 rows x 13 groups x 4 = 208 DP16KD
    "85k": ((82, 70, 46, 22),
            tuple((x, x + 2, x + 4, x + 6) for x in (4, 13, 22, 31, 40, 49)) + ((58, 60, 62, 64),)
            + tuple((x, x + 2, x + 4, x + 6) for x in (69, 78, 87, 96, 105, 114))),
}
"""Block-RAM sites per nextpnr-ecp5 device option (``--85k``): the rows' Y and each EBR tile group's X."""


def site_order(device: str) -> list[str]:
    """The sites of ``device`` along a compact path: rows in pairs (top pair, then the next), along a
    pair tile group by tile group (left to right on the first pair, back right to left on the next),
    in each the upper row's four sites, then the lower row's (in the pair's direction). So any run of consecutive sites is a
    short strip two rows high."""
    rows, groups = EBR_SITES[device]
    order = []
    for i in range(0, len(rows), 2):
        forward = (i // 2) % 2 == 0
        for xs in (groups if forward else groups[::-1]):
            sites = list(enumerate(xs)) if forward else list(enumerate(xs))[::-1]    # (EBR index, X)
            for y in rows[i:i + 2]:
                order += [f"X{x}/Y{y}/EBR{k}" for k, x in sites]
    return order


def _natural(name: str) -> list:
    """``bank10`` after ``bank9``: digits compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def floorplan_brams(design: dict, top: str, device: str) -> dict:
    """Give every DP16KD of ``top`` a ``BEL`` attribute: the block RAMs in natural name order, the sites
    in :func:`site_order`. Returns ``{"device", "dp16kd"}`` (block RAMs locked) and, when nothing was
    done, ``"skipped"``: why."""
    result = {"device": device, "dp16kd": 0}
    if top not in design.get("modules", {}):
        return {**result, "skipped": f"no module {top!r} in the netlist"}
    cells = design["modules"][top]["cells"]
    brams = sorted((n for n, c in cells.items() if c["type"] == "DP16KD"), key=_natural)
    if device not in EBR_SITES:
        return {**result, "skipped": f"no block-RAM site table for --{device}"}
    sites = site_order(device)
    if len(brams) > len(sites):
        return {**result, "skipped": f"{len(brams)} DP16KD, the device has {len(sites)}"}
    if any("BEL" in cells[n].get("attributes", {}) for n in brams):
        return {**result, "skipped": "a DP16KD already has a BEL attribute"}
    for name, site in zip(brams, sites):
        cells[name].setdefault("attributes", {})["BEL"] = site
    return {**result, "dp16kd": len(brams)}
