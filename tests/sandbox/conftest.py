"""Fixtures for sandbox tests: a small hand-made dataset whose every record a test can name."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.data import small_dataset as build_small_dataset

from healthsync.sandbox.dataset import Dataset


@pytest.fixture
def small_dataset(tmp_path: Path) -> Dataset:
    """The six-customer dataset (`helpers.data.small_dataset`), in a fresh folder per test."""
    return build_small_dataset(tmp_path)
