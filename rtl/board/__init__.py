"""The kit on a real board: the engine behind a UART host link, bitstreams for ECP5 / iCE40 boards, the host side.

Rooms: :mod:`.protocol` (framing, sizes, CRC: one source for both ends), :mod:`.uart`, :mod:`.core`
(engine + link gateware), :mod:`.top` (board clock, reset, pins, LEDs), :mod:`.boards` (the boards
and their capacities), :mod:`.flow` (bitstream build with the pinned tools), :mod:`.host` (the host
side of the link), :mod:`.__main__` (``python -m rtl.board build|run``). Docs: docs/board.md.
"""
