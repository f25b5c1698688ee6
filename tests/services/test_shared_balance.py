"""Numbers of one contract that share one balance count once in the household total."""

from __future__ import annotations

from pathlib import Path

from reference_provider.dialects.beeline.api import share_balance
from reference_provider.testing.aggregator_env import InProcessEnv, create_household
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.plugins import load_plugins
from aggregator.polling import PollingOptions, PollingService
from aggregator.services.dashboard import household_dashboard

MANUAL = PollingOptions(send_mail=False, start_sink=False, min_interval_s=0)


async def test_two_beeline_numbers_sharing_one_balance_count_once(tmp_path: Path) -> None:
    async with InProcessEnv(tmp_path / "data", load_plugins(), min_poll_interval_s=1) as env:
        household = await create_household(env.engine)
        ids, items = await env.link("beeline", 3, household_id=household, balance=300_00)
        first, second, third = (env.backend.account(i["account_id"]) for i in items)
        env.backend.set_balance(third, 100_00)
        async with PollingService(
            env.runtime, settings=env.settings, options=MANUAL, vault=env.vault, schedule=False
        ) as service:
            await service.poll_accounts(ids)
            async with AsyncSession(env.engine) as db:
                before = await household_dashboard(db, household)
            assert before.totals == {"RUB": 700_00}  # three balances of their own

            share_balance(first, second)  # the second number now shows the first's money
            outcomes = await service.poll_accounts(ids)
        assert [o.balance for o in outcomes][:2] == [300, 300]
        async with AsyncSession(env.engine) as db:
            board = await household_dashboard(db, household)
        assert board.totals == {"RUB": 400_00} and board.money == {"RUB": 400_00}
        cards = {a.id: a for a in board.accounts}
        assert cards[ids[0]].balance_minor == cards[ids[1]].balance_minor == 300_00
        assert cards[ids[1]].shares_balance_with == ids[0]
        assert cards[ids[0]].shares_balance_with is None
        assert cards[ids[2]].shares_balance_with is None
