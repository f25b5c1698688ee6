"""schemathesis over the dashboard's own OpenAPI schema, with every built-in check: no server
error, and the API does what its document says (statuses, content types, headers, response
bodies, schema-valid requests accepted and schema-violating ones refused, the methods of each
path in ``Allow``). Bounded: 15 derandomized examples an operation, about half a minute.

The app runs in-process (schemathesis' ASGI client, lifespan included) with a signed-in
session (cookie + CSRF header) of a household whose accounts are linked to the reference
provider, which runs as a real server on loopback; so the operations that reach an operator
(tariffs, services, suspension, chat, reports, ...) are fuzzed end to end.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from reference_provider.app import create_app as create_reference_app
from reference_provider.testing import running_server
from sqlalchemy import select

from aggregator.accounts import link_accounts
from aggregator.plugins import load_plugins
from aggregator.runtime import Runtime
from aggregator.server.app import create_app
from aggregator.server.integration import ensure_schema
from aggregator.server.security import create_web_session, session_cookie_name
from aggregator.services.households import create_household_with_owner
from aggregator.services.tokens import create_token
from aggregator.settings import Settings
from aggregator.storage.db import create_engine, session_factory
from aggregator.storage.models import WebSession
from aggregator.vault import Vault

from .conftest import PASSWORD, make_settings

DEFAULT = "http://127.0.0.1:8081"


@dataclass
class FuzzEnv:
    settings: Settings
    headers: dict[str, str]


async def _prepare(settings: Settings) -> dict[str, str]:
    """A household, its reference accounts linked by a real login, a live web session."""
    engine = create_engine(settings.resolved_database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await ensure_schema(settings, engine)
    vault = Vault.from_settings(settings)
    sessions = session_factory(engine)
    async with Runtime(settings) as runtime:
        provider = runtime.provider("reference")
        cls = runtime.registry.provider("reference")
        credentials = cls.scheme("password").build_credentials("demo", "demo-password")
        session = await provider.start_login(credentials)
        subaccounts = await provider.subaccounts(session)  # type: ignore[arg-type]
        async with sessions() as db:
            user = await create_household_with_owner(db, email="fuzz@example.ru", password=PASSWORD)
            await link_accounts(
                db,
                vault,
                household_id=user.household_id,
                provider=cls,
                credentials=credentials,
                session=session,  # type: ignore[arg-type]
                subaccounts=subaccounts,
            )
            token = await create_web_session(db, user.id)
            await db.commit()
            csrf = await db.scalar(select(WebSession.csrf_token))
            # The schema offers a Bearer token too, and schemathesis fills the Authorization
            # header when it can: give it a valid read-write token (the session stays valid).
            api_token = await create_token(
                db, household_id=user.household_id, user_id=user.id, name="fuzz", scope="write"
            )
    await engine.dispose()
    return {
        "Cookie": f"{session_cookie_name(settings)}={token}",
        "X-CSRF-Token": str(csrf),
        "Authorization": f"Bearer {api_token.token.reveal()}",
    }


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzEnv]:
    with running_server(create_reference_app(sim=True, clock_speed=0)) as base:
        urls = {
            pid: cls.default_base_url.replace(DEFAULT, base)
            for pid, cls in load_plugins().providers.items()
        }
        settings = make_settings(
            Path(tmp_path_factory.mktemp("fuzz")), provider_urls=urls, http_timeout_s=10
        )
        headers = asyncio.run(_prepare(settings))
        yield FuzzEnv(settings, headers)


@pytest.fixture(scope="module")
def api_schema(fuzz_env: FuzzEnv) -> schemathesis.schemas.BaseSchema:
    app = create_app(fuzz_env.settings)
    schema = schemathesis.openapi.from_asgi("/api/schema/openapi.json", app)
    # Unlinking accounts would leave the rest of the run nothing to reach; covered elsewhere.
    return schema.exclude(method="DELETE", path_regex=r"^/api/v1/accounts/\{account_id\}$")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_does_what_its_schema_says(case: schemathesis.Case, fuzz_env: FuzzEnv) -> None:
    response = case.call_and_validate(headers=fuzz_env.headers)  # every check enabled
    STATUSES[(case.operation.label, response.status_code)] += 1


STATUSES: Counter[tuple[str, int]] = Counter()


def test_the_fuzzing_was_signed_in_and_reached_the_operator() -> None:
    """Guard against a fuzz run that only ever met 401s or 404s."""
    ok = {label for (label, status), _ in STATUSES.items() if 200 <= status < 300}
    assert not any(status == 401 for _, status in STATUSES), {
        k: v for k, v in STATUSES.items() if k[1] == 401
    }
    for label in (
        "GET /api/v1/accounts",
        "GET /api/v1/accounts/{account_id}/tariffs",
        "GET /api/v1/accounts/{account_id}/services",
        "GET /api/v1/accounts/{account_id}/chat",
        "PUT /api/v1/alerts",
    ):
        assert label in ok, sorted(ok)
