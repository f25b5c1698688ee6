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
    """True when ``operation`` moves money and rests on an assumed wire format.

    Switching a service off moves no money (``enabling=False``).
    """
    capability = OPERATION_CAPABILITY.get(operation)
    if provider is None or capability is None or capability not in MONEY_CAPABILITIES:
        return False
    if capability is Capability.SERVICE_TOGGLE and not enabling:
        return False
    return provider.provenance_of(capability) is WireProvenance.ASSUMED


def assumed_operations(provider: type[Provider] | None) -> set[str]:
    """The capabilities of ``provider`` whose wire format is assumed (for the page's marks)."""
    if provider is None:
        return set()
    return {
        name for name, known in provider.provenance_map().items() if known is WireProvenance.ASSUMED
    }
