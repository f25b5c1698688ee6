"""Alerts: rules, forecasts, episodes, e-mail through a durable outbox, the mail sink.

See docs/polling.md (Alerts). Rules and their decisions are pure (:mod:`.rules`,
:mod:`.forecast`); :mod:`.episodes` writes episodes and outbox rows in the poll's
transaction; :mod:`.outbox` sends them after commit; :mod:`.email` is the built-in notifier
(registered by :mod:`.email_plugin` like any plugin's); :mod:`.sink` is the embedded SMTP sink
and the store the dashboard reads mail from.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .forecast import Forecast, SpendHistory, days_left, forecast
    from .rules import DEFAULTS, AlertKind, EffectiveRule, resolve_rules

# Loaded on first use (PEP 562): the e-mail notifier's entry point imports this package, and
# `aggregator plugins list` must not pay for SQLAlchemy and the storage models.
_LAZY = {
    "Forecast": ".forecast",
    "SpendHistory": ".forecast",
    "days_left": ".forecast",
    "forecast": ".forecast",
    "DEFAULTS": ".rules",
    "AlertKind": ".rules",
    "EffectiveRule": ".rules",
    "resolve_rules": ".rules",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


# The mail sink and store live in .sink (``from aggregator.alerts.sink import MailStore``): not
# imported here, so a poller that sends through a real SMTP server never loads aiosmtpd.
__all__ = [
    "DEFAULTS",
    "AlertKind",
    "EffectiveRule",
    "Forecast",
    "SpendHistory",
    "days_left",
    "forecast",
    "resolve_rules",
]
