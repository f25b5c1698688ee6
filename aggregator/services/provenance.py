"""Provenance of operator wire formats, as the application uses it.

A provider declares, per capability, how it knows the operator's wire format
(:class:`~aggregator.core.provider.WireProvenance`). The account page marks the operations
that rest on an assumed format, and an operation that moves money (a top-up or a trusted
payment, a tariff change, a paid service switched on, a voluntary block) on an assumed format
asks the person to confirm once more, saying why: the plugin's author guessed how the
operator's cabinet takes that order, and no independent client shows it.
"""

from __future__ import annotations

from ..core.provider import MONEY_CAPABILITIES, Capability, Provider, WireProvenance

__all__ = ["OPERATION_CAPABILITY", "assumed_operations", "needs_second_confirmation"]

#: The operation names pages, the API and audit records use, by the capability they call.
OPERATION_CAPABILITY: dict[str, Capability] = {
    "top_up": Capability.TOP_UP,
    "take_trusted_payment": Capability.TAKE_TRUSTED_PAYMENT,
    "change_tariff": Capability.TARIFF_CHANGE,
    "set_service": Capability.SERVICE_TOGGLE,
    "suspend": Capability.SUSPEND,
}


def needs_second_confirmation(
    provider: type[Provider] | None, operation: str, *, enabling: bool = True
) -> bool:
    """True when ``operation`` moves money and its wire format is not proven by an
    independent client (assumed, or known from the operator's description only).

    Switching a service off moves no money (``enabling=False``).
    """
    capability = OPERATION_CAPABILITY.get(operation)
    if provider is None or capability is None or capability not in MONEY_CAPABILITIES:
        return False
    if not provider.has(capability):
        return False  # the operator does not offer it: that is the answer, not a question
    if capability is Capability.SERVICE_TOGGLE and not enabling:
        return False
    # A seed describes what the cabinet offers, not its wire: money on a format no
    # independent client shows is confirmed once more, as on an assumed one.
    return provider.provenance_of(capability) is not WireProvenance.PROVEN


def assumed_operations(provider: type[Provider] | None) -> set[str]:
    """The capabilities of ``provider`` whose wire format no independent client proves
    (assumed, or from the seed only), for the page's "format not verified" marks."""
    if provider is None:
        return set()
    return {
        name
        for name, known in provider.provenance_map().items()
        if known is not WireProvenance.PROVEN
    }
