"""The server's shared state (:class:`ServerState`, :func:`server_state`); the signed-in user
lives in :mod:`.users` (re-exported here)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Request

from .users import CurrentUser

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from ..runtime import Runtime
    from ..services.operations import AccountOperations
    from ..settings import Settings
    from ..vault import Vault
    from .assets import WebAssets
    from .flows import FlowStore
    from .i18n import Translator
    from .rendering import Renderer
    from .throttle import SignInThrottle

__all__ = ["CurrentUser", "ServerState", "server_state"]


class ServerState:
    """Everything the handlers share, built by the lifespan and kept on ``app.state.server``.

    A plain class on purpose: Litestar injects it as a dependency, and a dataclass would be
    converted field by field on every request.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        assets: WebAssets,
        translator: Translator,
        renderer: Renderer,
        throttle: SignInThrottle,
        flows: FlowStore,
    ) -> None:
        self.settings = settings
        self.assets = assets
        self.translator = translator
        self.renderer = renderer
        self.throttle = throttle
        self.flows = flows
        self.engine: AsyncEngine | None = None
        self.sessionmaker: async_sessionmaker[AsyncSession] | None = None
        self.vault: Vault | None = None
        self.runtime: Runtime | None = None
        self.operations: AccountOperations | None = None
        self.polling: Any = None
        self.polling_options: Any = None
        self.mail_sink: Any = None

    def db(self) -> AsyncSession:
        if self.sessionmaker is None:
            raise RuntimeError("the database is not open (lifespan not started)")
        return self.sessionmaker()

    def require_runtime(self) -> Runtime:
        if self.runtime is None:
            raise RuntimeError("the runtime is not started")
        return self.runtime

    def require_operations(self) -> AccountOperations:
        if self.operations is None:
            raise RuntimeError("operations are not ready")
        return self.operations

    def require_vault(self) -> Vault:
        if self.vault is None:
            raise RuntimeError("the vault is not open")
        return self.vault


def server_state(request: Request[Any, Any, Any]) -> ServerState:
    """The server's shared state, from the application a request belongs to."""
    state: ServerState = request.app.state.server
    return state
