"""``aggregator poll``: one polling round now, for the CLI.

:func:`poll_now` polls one account (``--account ID``) or every account (``--all``), due or
not, in this process, and returns one :class:`~.models.PollOutcome` per account; the CLI
draws the progress bar from ``progress(done, total)`` and the result table from the outcomes.
Accounts waiting for a person (``needs_login``) are reported without contacting the
operator. Alerts the round opens are queued in the outbox and sent by the running aggregator
(or the next one to start); pass ``send_mail=True`` to send them before returning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..runtime import Runtime
from ..settings import Settings
from .models import PollOutcome
from .options import PollingOptions
from .service import PollingService, default_identity

__all__ = ["poll_now"]

log = logging.getLogger(__name__)


async def poll_now(
    settings: Settings,
    account_id: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    runtime: Runtime | None = None,
    options: PollingOptions | None = None,
    send_mail: bool = False,
) -> list[PollOutcome]:
    """Poll ``account_id`` (or every account when None) now; one outcome per account.

    An unknown ``account_id`` gives an empty list.
    """
    options = options or PollingOptions(send_mail=False, start_sink=False)
    own_runtime = runtime is None
    runtime = runtime or Runtime(settings)
    try:
        service = PollingService(
            runtime,
            settings=settings,
            options=options,
            identity=default_identity("cli"),
            schedule=False,
        )
        async with service:
            ids = [account_id] if account_id is not None else None
            outcomes = await service.runner.poll_accounts(ids, progress)
            if send_mail and service.sender is not None:
                await service.sender.send_due()
            return outcomes
    finally:
        if own_runtime:
            await runtime.aclose()
