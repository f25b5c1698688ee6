"""The aggregator: one dashboard for a household's telecom accounts.

This module is the only import a plugin author needs::

    from aggregator import Provider, hookimpl, models, errors, LoginScheme, ...
"""

from __future__ import annotations

from .core import errors, models
from .core.errors import (
    AccountLocked,
    AggregatorError,
    AuthError,
    FlowExpired,
    InvalidCredentials,
    NotSupported,
    OperationRejected,
    ParseError,
    RateLimited,
    SessionExpired,
    TemporaryError,
    Timeout,
    Unavailable,
    redact,
)
from .core.flows import Challenge, ChallengeAnswer, ChallengeKind, FlowRegistry, Session
from .core.hookspecs import hookimpl
from .core.login import (
    Credentials,
    ExtraField,
    IdentifierKind,
    IdentifierSpec,
    LoginScheme,
    PasswordPolicy,
    SecretKind,
    SsoProvider,
    normalise_phone,
)
from .core.notify import Notification, Notifier
from .core.provider import Capability, Host, Provider, ProviderContext
from .core.secret import Secret

__version__ = "0.1.0"

__all__ = [
    "AccountLocked",
    "AggregatorError",
    "AuthError",
    "Capability",
    "Challenge",
    "ChallengeAnswer",
    "ChallengeKind",
    "Credentials",
    "ExtraField",
    "FlowExpired",
    "FlowRegistry",
    "Host",
    "IdentifierKind",
    "IdentifierSpec",
    "InvalidCredentials",
    "LoginScheme",
    "NotSupported",
    "Notification",
    "Notifier",
    "OperationRejected",
    "ParseError",
    "PasswordPolicy",
    "Provider",
    "ProviderContext",
    "RateLimited",
    "Secret",
    "SecretKind",
    "Session",
    "SessionExpired",
    "SsoProvider",
    "TemporaryError",
    "Timeout",
    "Unavailable",
    "__version__",
    "errors",
    "hookimpl",
    "models",
    "normalise_phone",
    "redact",
]
