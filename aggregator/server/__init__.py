"""The web dashboard and its JSON API (Litestar). See docs/dashboard.md.

``create_app(settings)`` builds the application; ``serve(settings)`` runs it under uvicorn
(``aggregator serve``). Imported lazily by the CLI: importing :mod:`aggregator` does not pay
for the web server.
"""

from __future__ import annotations

from .app import create_app, serve

__all__ = ["create_app", "serve"]
