"""Operation confirmations on the web: a :class:`~aggregator.services.operations.NeedsCode`
kept in the flow store under a token bound to the web session (pages and API alike).

The workflow (call, audit, code, second code, rejected code) is the application layer's;
this module only translates its pending operation to and from a flow token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.errors import FlowExpired
from ..services.operations import NeedsCode, PendingOperation

if TYPE_CHECKING:
    from ..storage.models import LinkedAccount
    from .context import CurrentUser, ServerState
    from .flows import PendingFlow

__all__ = ["keep", "pending"]


def keep(
    server: ServerState,
    user: CurrentUser,
    account: LinkedAccount,
    outcome: NeedsCode,
    flow: PendingFlow | None = None,
) -> PendingFlow:
    """The flow holding ``outcome``'s pending operation: ``flow`` updated (a second code, a
    rejected one), or a new one."""
    op = outcome.pending
    if flow is not None:
        flow.challenge = op.challenge
        server.flows.touch(flow)
        return flow
    return server.flows.start(
        web_session=user.session_id,
        household_id=user.household_id,
        user_id=user.user_id,
        purpose="operation",
        provider_id=account.provider_id,
        account_id=op.account_id,
        operation=op.operation,
        operation_args=op.args,
        challenge=op.challenge,
    )


def pending(
    server: ServerState, user: CurrentUser, token: str
) -> tuple[PendingFlow, PendingOperation]:
    """The open confirmation ``token`` of this web session; :class:`FlowExpired` otherwise."""
    flow = server.flows.get(token, user.session_id)
    if (
        flow is None
        or flow.purpose != "operation"
        or flow.account_id is None
        or flow.challenge is None
        or flow.operation is None
    ):
        raise FlowExpired("this confirmation is no longer open")
    operation = PendingOperation(
        account_id=flow.account_id,
        operation=flow.operation,
        args={k: str(v) for k, v in flow.operation_args.items()},
        challenge=flow.challenge,
    )
    return flow, operation
