"""Rostelecom through the real poller: one passport login in Chromium serves 100 polls; a lost
cookie session costs exactly one silent browser re-login, shared by every account of the login,
and no poll fails.

The reference provider (its ``rostelecom`` dialect: two hosts, the passport's anti-robot page
and JavaScript-built form, the cabinet's cookie session) serves on a loopback port as a task of
the test's event loop, so the test can end the operator's sessions directly. The aggregator's
Runtime starts its own shared Chromium, as ``aggregator serve`` does.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from reference_provider.app import create_app
from reference_provider.backend import Backend
from reference_provider.testing import free_port, serving
from reference_provider.testing.aggregator_env import create_household

from aggregator.core.flows import Session
from aggregator.plugins import PluginRegistry
from aggregator.polling import PollingOptions, PollingService
from aggregator.runtime import Runtime
from aggregator.services import accounts as accounts_service
from aggregator.settings import Settings
from aggregator.storage.db import create_engine, session_factory
from aggregator.storage.schema import upgrade
from aggregator.vault import Vault

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

MANUAL = PollingOptions(send_mail=False, start_sink=False, min_interval_s=0)


async def test_100_polls_after_one_login_and_one_silent_relogin_when_the_session_is_lost(
    tmp_path: Path, registry: PluginRegistry
) -> None:
    if "rostelecom" not in registry.providers:
        pytest.skip("the rostelecom plugin is missing")
    backend = Backend(seed=1, clock_speed=0)
    async with serving(create_app(backend=backend, sim=True)) as origin:
        settings = Settings(
            data_dir=tmp_path / "data",
            database_url=None,
            key_file=None,
            vault_key=None,
            provider_urls={"rostelecom": f"{origin}/rostelecom"},
            mail_sink_port=free_port(),
            min_poll_interval_s=1,
        )
        settings.data_dir.mkdir(parents=True)
        engine = create_engine(settings.resolved_database_url)
        try:
            await upgrade(engine)
            vault = Vault.from_settings(settings)
            household = await create_household(engine)
            async with Runtime(settings, registry=registry) as runtime:
                provider = runtime.provider("rostelecom")
                cls = registry.provider("rostelecom")
                # Linked as a person does: the passport's login tab, then every account.
                credentials = cls.scheme("password").build_credentials(
                    "smirnov.ivan", "Rostelecom2024", identifier_kind="login"
                )
                session = await provider.start_login(credentials)
                assert isinstance(session, Session)
                found = await accounts_service.found_subaccounts(provider, session)
                assert len(found) == 4
                async with session_factory(engine)() as db:
                    linked = await accounts_service.link(
                        db,
                        vault,
                        provider,
                        household_id=household,
                        credentials=credentials,
                        session=session,
                        chosen=found,
                    )
                    ids = [a.id for a in linked]
                logins = getattr(provider, "browser_logins")  # noqa: B009 (a plugin's counter)
                assert logins == 1

                async with PollingService(
                    runtime, settings=settings, options=MANUAL, vault=vault, schedule=False
                ) as service:
                    polls = 0
                    while polls < 100:
                        outcomes = await service.poll_accounts(ids)
                        assert [o.status for o in outcomes] == ["ok"] * 4, outcomes
                        polls += len(outcomes)
                    assert getattr(provider, "browser_logins") == 1  # noqa: B009
                    assert sum(service.runner.poller.sessions.login_attempts.values()) == 0

                    # The operator drops the cookie session: the next round logs in once,
                    # silently (the stored password, the remembered passport device), and
                    # every account of the login reads its balance.
                    assert backend.expire_sessions(operator="rostelecom") >= 1
                    outcomes = await service.poll_accounts(ids)
                    assert [o.status for o in outcomes] == ["ok"] * 4, outcomes
                    assert getattr(provider, "browser_logins") == 2  # noqa: B009
                    for _ in range(3):
                        outcomes = await service.poll_accounts(ids)
                        assert [o.status for o in outcomes] == ["ok"] * 4, outcomes
                    assert getattr(provider, "browser_logins") == 2  # noqa: B009
        finally:
            await engine.dispose()
