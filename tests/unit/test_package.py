"""The package's public surface: every exported name resolves, and importing it stays cheap."""

from __future__ import annotations

import subprocess
import sys

import healthsync


def test_every_public_name_resolves() -> None:
    missing = [name for name in healthsync.__all__ if getattr(healthsync, name, None) is None]
    assert missing == []


def test_importing_the_package_does_not_load_sqlalchemy_or_pydantic() -> None:
    """The CLI and the sandbox import healthsync on every start; heavy modules load on first use."""
    code = "import sys, healthsync.errors, healthsync; print(sorted({'sqlalchemy', 'pydantic'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
