"""The names plugin authors import from ``aggregator`` are pinned (as httpx pins its API)."""

from __future__ import annotations

import aggregator

EXPECTED = {
    "AccountLocked", "AggregatorError", "AuthError", "Capability", "Challenge",
    "ChallengeAnswer", "ChallengeKind", "CodeRejected", "Credentials", "ExtraField", "FlowExpired",
    "FlowRegistry", "Host", "IdentifierKind", "IdentifierSpec", "InvalidCredentials", "LoginScheme",
    "NotSupported", "Notification", "Notifier", "OperationRejected", "ParseError",
    "PasswordPolicy", "Provider", "ProviderContext", "RateLimited", "Secret", "SecretKind",
    "Session", "SessionExpired", "SsoProvider", "TemporaryError", "Timeout", "Unavailable",
    "__version__", "errors", "hookimpl", "models", "normalise_phone", "redact",
    # the parsing kit (aggregator.core.parsing) and the one money conversion (core.money)
    "MOSCOW_TZ", "Date", "DateTime", "Flag", "Int", "Kopecks", "Number", "Roubles", "Text",
    "Wire", "from_minor", "parse_amount", "parse_date", "parse_datetime", "parse_flag",
    "parse_int", "parse_kopecks", "parse_number", "parse_reply", "parse_roubles", "parsing",
    "reading", "to_minor",
    "WireProvenance",  # how a provider knows each capability's wire format
    # notification channels (a plugin's notifier: Telegram and others)
    "AccountLine", "ChannelField", "ChannelHub", "HouseholdChannel", "Recipient", "RecipientGone",
    # password recovery, a flow of challenges like a login
    "RecoveryDone", "RecoveryOutcome", "RecoveryRequest", "RecoveryScheme",
    "OperatorLimits",  # an operator's declared limits (requests at once, rate budget)
    # Russian-first formatting from Babel, for plugins that write to people (notifiers)
    "format_days", "format_money", "format_number",
}  # fmt: skip


def test_public_names_are_pinned() -> None:
    assert set(aggregator.__all__) == EXPECTED
    for name in aggregator.__all__:
        assert hasattr(aggregator, name)
