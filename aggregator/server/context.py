"""Who is asking: the signed-in user of a request, and the server's shared state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from ..runtime import Runtime
    from ..settings import Settings
    from ..vault import Vault
    from .assets import WebAssets
    from .flows import FlowStore
    from .i18n import Translator
    from .operations import AccountOperations
    from .rendering import Renderer
    from .throttle import SignInThrottle

__all__ = ["CurrentUser", "ServerState"]


@dataclass(frozen=True, slots=True)
class CurrentUser:
    """The signed-in user, loaded from the server-side session on every request."""

    user_id: int
    household_id: int
    email: str
    display_name: str
    role: str
    lang: str
    timezone: str
    household_name: str
    session_id: str  # sha256 of the cookie token (the WebSession primary key)
    csrf_token: str

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"


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

    def require_vault(self) -> Vault:
        if self.vault is None:
            raise RuntimeError("the vault is not open")
        return self.vault
