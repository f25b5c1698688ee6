"""The sign-in throttle: per address and per client address, kept in the database.

Attack review: the in-memory throttle forgot a victim after 10,000 other addresses, was lost on
restart and per process, and let anyone lock a known address out for 15 minutes.
"""

from __future__ import annotations

from pathlib import Path

from litestar.testing import AsyncTestClient

from aggregator.runtime import Runtime
from aggregator.server.app import create_app
from aggregator.server.throttle import SignInThrottle

from .conftest import PASSWORD, Harness, Reference, make_settings

OWNER = "owner@example.ru"


async def test_the_throttle_survives_a_restart_and_is_shared(
    tmp_path: Path, ref: Reference
) -> None:
    settings = make_settings(tmp_path)
    async with Runtime(settings, http=ref.http) as runtime:
        first = create_app(settings, runtime=runtime)
        async with AsyncTestClient(first, base_url="http://127.0.0.1:8000") as client:
            from .conftest import Harness as H

            h = H(first, client, settings, ref)
            await h.sign_up(OWNER)
            await h.sign_out()
            await h.page("/login")
            for _ in range(5):
                response = await h.post("/login", {"email": OWNER, "password": "wrong"})
                assert response.status_code == 400
        # A second process on the same database (a restart, another worker) still knows.
        second = create_app(settings, runtime=runtime)
        async with AsyncTestClient(second, base_url="http://127.0.0.1:8000") as client:
            h = H(second, client, settings, ref)
            await h.page("/login")
            refused = await h.post("/login", {"email": OWNER, "password": PASSWORD})
            assert refused.status_code == 429
            assert int(refused.headers["retry-after"]) > 0


async def test_an_attacker_slows_unknown_clients_but_never_locks_out_the_owner(
    signed_in: Harness,
) -> None:
    server = signed_in.app.state.server
    throttle: SignInThrottle = server.throttle
    async with server.db() as db:
        await throttle.succeeded(db, OWNER, "10.0.0.7")  # the owner's usual client
        await db.commit()
        for _ in range(12):  # an attacker hammers the owner's address from elsewhere
            await throttle.failed(db, OWNER, "203.0.113.9")
        await db.commit()
        # Unknown clients are slowed down for that address (not locked for 15 minutes)...
        wait = await throttle.retry_after(db, OWNER, "198.51.100.1")
        assert 0 < wait <= throttle.max_delay_s
        # ...the owner's known client is not slowed at all...
        assert await throttle.retry_after(db, OWNER, "10.0.0.7") == 0
        # ...and the attacker's own client address is refused, whatever address it tries.
        for n in range(throttle.client_failures):
            await throttle.failed(db, f"someone{n}@example.ru", "203.0.113.9")
        await db.commit()
        assert await throttle.retry_after(db, "other@example.ru", "203.0.113.9") > 0
        assert await throttle.retry_after(db, "other@example.ru", "198.51.100.1") == 0


async def test_the_owner_mistyping_is_slowed_briefly_and_a_success_clears_it(
    signed_in: Harness,
) -> None:
    server = signed_in.app.state.server
    throttle: SignInThrottle = server.throttle
    async with server.db() as db:
        await throttle.succeeded(db, OWNER, "10.0.0.7")
        for _ in range(throttle.address_failures):
            await throttle.failed(db, OWNER, "10.0.0.7")
        await db.commit()
        wait = await throttle.retry_after(db, OWNER, "10.0.0.7")
        assert 0 < wait <= throttle.known_max_delay_s
        await throttle.succeeded(db, OWNER, "10.0.0.7")
        await db.commit()
        assert await throttle.retry_after(db, OWNER, "10.0.0.7") == 0


async def test_a_victim_is_not_forgotten_after_many_other_addresses(signed_in: Harness) -> None:
    server = signed_in.app.state.server
    throttle: SignInThrottle = server.throttle
    async with server.db() as db:
        for _ in range(throttle.address_failures):
            await throttle.failed(db, OWNER, "203.0.113.9")
        await db.commit()
        for n in range(200):  # spread over many clients, so none of them is refused
            await throttle.failed(db, f"x{n}@example.ru", f"192.0.2.{n % 200}")
        await db.commit()
        assert await throttle.retry_after(db, OWNER, "198.51.100.1") > 0
