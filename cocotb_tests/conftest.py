"""Prints every bench's figures (counts compared, cycles/s) at the end of the run, also under pytest-xdist."""

from __future__ import annotations

import time

from simsetup import SUMMARY

_START = time.time()


def pytest_terminal_summary(terminalreporter):
    files = sorted(p for p in SUMMARY.glob("*.txt") if p.stat().st_mtime >= _START) if SUMMARY.is_dir() else []
    if not files:
        return
    terminalreporter.section("cocotb benches")
    for p in files:
        for line in p.read_text().splitlines():
            terminalreporter.write_line(line)
