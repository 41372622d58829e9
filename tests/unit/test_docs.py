"""The README documents what users type: every input feature and every command."""

from __future__ import annotations

from pathlib import Path

import pytest

from healthsync.scoring.registry import DERIVED_SIGNALS, INPUT_FEATURES

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(INPUT_FEATURES))
def test_every_input_feature_is_documented(name):
    assert f"`{name}`" in README


@pytest.mark.parametrize("name", sorted(DERIVED_SIGNALS))
def test_every_derived_signal_is_documented(name):
    assert f"`{name}`" in README


def test_readme_opens_with_purpose_then_the_two_setup_commands():
    setup = README.index("## Set up")
    assert README.index("make demo") > setup
    assert README.index("make test") > setup
    assert README.index("make demo") < README.index("## Usage")
