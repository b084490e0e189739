"""Shared fixtures: write configs into a temporary folder."""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def write_config(tmp_path):
    """Write a config dict (or raw text) to tmp_path/name and return its path."""

    def _write(config, name="config.yaml"):
        path = tmp_path / name
        path.write_text(config if isinstance(config, str) else yaml.safe_dump(config, sort_keys=False))
        return path

    return _write
