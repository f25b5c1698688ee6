"""The reference provider: a fake telecom operator backend with one dialect per operator.

``create_app()`` builds the Litestar app; ``Backend`` is the domain plus simulation state
(``app.state.backend``). See DIALECTS.md for writing a dialect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app
    from .backend import Backend

__all__ = ["Backend", "create_app"]


def __getattr__(name: str) -> Any:  # lazy: importing the domain must not import Litestar
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "Backend":
        from .backend import Backend

        return Backend
    raise AttributeError(name)
