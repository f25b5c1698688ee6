"""The fake operator's domain: pure Python, in memory, shared by every dialect."""

from .catalogue import OPERATORS, REGIONS_NETBYNET, SSO_PROVIDERS, OperatorConfig
from .clock import MSK, BillingClock
from .core import OPERATIONS, Domain
from .demo import DEMO_PASSWORDS, IDP_PASSWORD, populate_demo
from .errors import (
    AccountLocked,
    AuthFailure,
    CaptchaRequired,
    CodeInvalid,
    DomainError,
    Forbidden,
    InvalidCredentials,
    InvalidInput,
    NotFound,
    PasswordChangeRequired,
    Rejected,
    SessionExpired,
)
from .money import format_rub, kop, rub
from .state import FORCED_FAULTS, normalise_phone

__all__ = [
    "DEMO_PASSWORDS",
    "FORCED_FAULTS",
    "IDP_PASSWORD",
    "MSK",
    "OPERATIONS",
    "OPERATORS",
    "REGIONS_NETBYNET",
    "SSO_PROVIDERS",
    "AccountLocked",
    "AuthFailure",
    "BillingClock",
    "CaptchaRequired",
    "CodeInvalid",
    "Domain",
    "DomainError",
    "Forbidden",
    "InvalidCredentials",
    "InvalidInput",
    "NotFound",
    "OperatorConfig",
    "PasswordChangeRequired",
    "Rejected",
    "SessionExpired",
    "format_rub",
    "kop",
    "normalise_phone",
    "populate_demo",
    "rub",
]
