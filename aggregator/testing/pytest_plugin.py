"""The pytest plugin of the contract kit (entry point ``pytest11``).

Loaded by every pytest run where the aggregator is installed, so it stays cheap: it registers
the ``contract`` marker and the ``leak_guard`` fixture; the suite itself lives in
:mod:`aggregator.testing.suite` and is imported only by tests that subclass it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .leaks import LeakGuard


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "contract: a test of the aggregator provider contract suite (aggregator.testing)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        cls = getattr(item, "cls", None)
        if cls is not None and getattr(cls, "__aggregator_contract__", False):
            item.add_marker(pytest.mark.contract)


@pytest.fixture
def leak_guard() -> Iterator[LeakGuard]:
    """Capture logs at DEBUG; after the test, fail if a secret given to ``add`` leaked.

    ::

        def test_login_logs_no_password(leak_guard):
            leak_guard.add("Canary-Pass-1")
            ...  # the code under test
            # checked automatically after the test; call leak_guard.check() to check earlier
    """
    from .leaks import LeakGuard

    guard = LeakGuard()
    with guard.capture_logs():
        yield guard
    guard.check()
