"""Fixtures shared by the tests under ``tests/``."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtl.tools import REQUIRE_ENV, ToolMissing, find_tool, tools_required


@pytest.fixture
def need_tool():
    """``need_tool("yosys")`` -> the tool's path (:func:`rtl.tools.find_tool`); a missing tool skips the test,
    or fails it under ``DRTP_REQUIRE_TOOLS=1`` (``make test``, CI), so a green run has really run it."""
    def need(name: str) -> Path:
        try:
            return find_tool(name)
        except ToolMissing as exc:
            if tools_required():
                pytest.fail(f"{exc} ({REQUIRE_ENV}=1: a missing tool is a failure)", pytrace=False)
            pytest.skip(str(exc))
    return need
