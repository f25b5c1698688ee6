"""The aggregator: one dashboard for a household's telecom accounts.

This module is the only import a plugin author needs::

    from aggregator import Provider, hookimpl, models, errors, LoginScheme, ...

and the parsing kit (docs/plugins.md, "The parsing kit")::

    from aggregator import Wire, Roubles, Kopecks, DateTime, parse_reply, MOSCOW_TZ, ...
"""

from __future__ import annotations

from .core import errors, models, parsing
from .core.errors import (
    AccountLocked,
    AggregatorError,
    AuthError,
    CodeRejected,
    FlowExpired,
    InvalidCredentials,
    NotSupported,
    OperationRejected,
    ParseError,
    RateLimited,
    RecipientGone,
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
from .core.money import from_minor, to_minor
from .core.notify import (
    AccountLine,
    ChannelField,
    ChannelHub,
    HouseholdChannel,
    Notification,
    Notifier,
    Recipient,
)
from .core.parsing import (
    MOSCOW_TZ,
    Date,
    DateTime,
    Flag,
    Int,
    Kopecks,
    Number,
    Roubles,
    Text,
    Wire,
    parse_amount,
    parse_date,
    parse_datetime,
    parse_flag,
    parse_int,
    parse_kopecks,
    parse_number,
    parse_reply,
    parse_roubles,
    reading,
)
from .core.provider import (
    Capability,
    Host,
    OperatorLimits,
    Provider,
    ProviderContext,
    WireProvenance,
)
from .core.recovery import RecoveryDone, RecoveryOutcome, RecoveryRequest, RecoveryScheme
from .core.secret import Secret
from .i18n import format_days, format_money, format_number

__version__ = "0.1.0"

__all__ = [
    "MOSCOW_TZ",
    "AccountLine",
    "AccountLocked",
    "AggregatorError",
    "AuthError",
    "Capability",
    "Challenge",
    "ChallengeAnswer",
    "ChallengeKind",
    "ChannelField",
    "ChannelHub",
    "CodeRejected",
    "Credentials",
    "Date",
    "DateTime",
    "ExtraField",
    "Flag",
    "FlowExpired",
    "FlowRegistry",
    "Host",
    "HouseholdChannel",
    "IdentifierKind",
    "IdentifierSpec",
    "Int",
    "InvalidCredentials",
    "Kopecks",
    "LoginScheme",
    "NotSupported",
    "Notification",
    "Notifier",
    "Number",
    "OperationRejected",
    "OperatorLimits",
    "ParseError",
    "PasswordPolicy",
    "Provider",
    "ProviderContext",
    "RateLimited",
    "Recipient",
    "RecipientGone",
    "RecoveryDone",
    "RecoveryOutcome",
    "RecoveryRequest",
    "RecoveryScheme",
    "Roubles",
    "Secret",
    "SecretKind",
    "Session",
    "SessionExpired",
    "SsoProvider",
    "TemporaryError",
    "Text",
    "Timeout",
    "Unavailable",
    "Wire",
    "WireProvenance",
    "__version__",
    "errors",
    "format_days",
    "format_money",
    "format_number",
    "from_minor",
    "hookimpl",
    "models",
    "normalise_phone",
    "parse_amount",
    "parse_date",
    "parse_datetime",
    "parse_flag",
    "parse_int",
    "parse_kopecks",
    "parse_number",
    "parse_reply",
    "parse_roubles",
    "parsing",
    "reading",
    "redact",
    "to_minor",
]
