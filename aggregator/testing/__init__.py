"""The contract test kit for plugin authors (a pytest plugin, entry point ``pytest11``).

Point the suite at a provider and a backend and it checks the whole contract: login with its
challenges, balance, every declared capability (undeclared ones raise NotSupported), error
mapping, and that no secret appears in exceptions, reprs or logs::

    import pytest
    from aggregator.testing import ContractBackend, ContractSuite

    class MyBackend(ContractBackend):
        async def credentials(self, scheme):
            return scheme.build_credentials("9031234567", "Canary-Pass-1")

    class TestContract(ContractSuite):
        provider_class = MyProvider

        @pytest.fixture
        async def contract_backend(self):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
                yield MyBackend(http, "http://testserver")

See docs/plugins.md ("The contract kit"). Requires pytest and pytest-asyncio.

A household's diagnostics file replays into a regression test with :func:`replay_provider`
(docs/plugins.md, "Replaying a household's diagnostics").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .backend import ContractBackend, Fault, Unanswerable
    from .checks import (
        ContractViolation,
        check_challenge,
        check_declaration,
        check_remainders,
        check_result,
    )
    from .harness import ContractHarness
    from .leaks import LeakGuard, SecretLeak
    from .replay import (
        ReplayTransport,
        UnrecordedRequest,
        load_har,
        replay_provider,
        replayed_account,
    )
    from .suite import ContractSuite

__all__ = [
    "ContractBackend",
    "ContractHarness",
    "ContractSuite",
    "ContractViolation",
    "Fault",
    "LeakGuard",
    "ReplayTransport",
    "SecretLeak",
    "Unanswerable",
    "UnrecordedRequest",
    "check_challenge",
    "check_declaration",
    "check_remainders",
    "check_result",
    "load_har",
    "replay_provider",
    "replayed_account",
]

# Imported on first use, so that loading the pytest plugin (every pytest run) stays cheap.
_WHERE = {
    "ContractBackend": "backend",
    "Fault": "backend",
    "Unanswerable": "backend",
    "ContractViolation": "checks",
    "check_challenge": "checks",
    "check_declaration": "checks",
    "check_remainders": "checks",
    "check_result": "checks",
    "ContractHarness": "harness",
    "LeakGuard": "leaks",
    "SecretLeak": "leaks",
    "ContractSuite": "suite",
    "ReplayTransport": "replay",
    "UnrecordedRequest": "replay",
    "load_har": "replay",
    "replay_provider": "replay",
    "replayed_account": "replay",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'aggregator.testing' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
