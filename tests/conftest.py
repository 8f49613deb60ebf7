"""Shared fixtures: every test that writes artefacts writes them under a temporary WM_DATA."""

import dataclasses

import pytest

from wmlib import config


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    """A fresh, empty data root for the test."""
    monkeypatch.setenv(config.DATA_VARIABLE, str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture
def tiny_profile(data_root):
    """The ci profile shrunk to three ten-step episodes."""
    rollouts = dataclasses.replace(config.get("ci").rollouts, episodes=3, max_steps=10)
    return dataclasses.replace(config.get("ci"), name="tiny", rollouts=rollouts)
