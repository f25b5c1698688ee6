"""The pytest plugin of the contract kit (entry point ``pytest11``); see aggregator.testing."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "contract: a test of the aggregator provider contract suite (aggregator.testing)"
    )
