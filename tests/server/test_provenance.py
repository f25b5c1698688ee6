"""Provenance: ``plugins list`` shows it; the account page marks operations on assumed wire
formats; money moved on an assumed format needs one more confirmation, on a proven one not."""

from __future__ import annotations

import json
import re

import pytest
from aggregator_reference import ReferenceProvider

from aggregator import Capability, Provider, WireProvenance
from aggregator.cli.plugins import plugin_listing
from aggregator.plugins import load_plugins
from aggregator.services.provenance import assumed_operations, needs_second_confirmation

from .conftest import Harness
from .test_journey_reference import FLOW, _link_demo


def test_plugins_list_json_carries_provenance_per_capability() -> None:
    listing = plugin_listing(load_plugins())
    by_id = {p["id"]: p for p in listing["providers"]}
    reference = by_id["reference"]["provenance"]
    assert set(reference) == {"login", *by_id["reference"]["capabilities"]}
    assert set(reference.values()) == {"proven"}
    bashtel = by_id["bashtel"]["provenance"]
    assert bashtel["top_up"] == "seed" and bashtel["usage"] == "assumed"
    for provider in listing["providers"]:
        assert set(provider["provenance"].values()) <= {"proven", "seed", "assumed"}
    json.dumps(listing)


def test_a_provider_declares_only_known_capabilities_and_kinds() -> None:
    with pytest.raises(TypeError, match="not a capability"):
        type("Bad", (Provider,), {"provenance": {"teleport": "proven"}})
    with pytest.raises(ValueError):
        type("Bad", (Provider,), {"provenance": {"balance": "rumoured"}})
    undeclared = type("Quiet", (Provider,), {})
    assert undeclared.provenance_of(Capability.TOP_UP) is WireProvenance.ASSUMED


def test_only_money_on_assumed_formats_needs_a_second_confirmation() -> None:
    assumed = type(
        "Guessing", (ReferenceProvider,), {"provenance": {"login": "proven", "top_up": "assumed"}}
    )
    assert needs_second_confirmation(assumed, "top_up")
    assert needs_second_confirmation(assumed, "change_tariff")  # undeclared: assumed
    assert needs_second_confirmation(assumed, "set_service", enabling=True)
    assert not needs_second_confirmation(assumed, "set_service", enabling=False)
    assert not needs_second_confirmation(assumed, "resume")  # moves no money
    for operation in ("top_up", "change_tariff", "set_service", "suspend"):
        assert not needs_second_confirmation(ReferenceProvider, operation)
    assert "top_up" in assumed_operations(assumed) and not assumed_operations(ReferenceProvider)


async def test_the_page_asks_once_more_for_money_on_an_assumed_format(
    signed_in: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = signed_in
    account_id = await _link_demo(h)
    page = await h.page(f"/accounts/{account_id}")
    assert "provenance-assumed" not in page.text  # the reference plugin is proven throughout

    # Proven: the top-up goes straight to the operator (its one-time code).
    straight = await h.htmx("POST", f"/accounts/{account_id}/top-up", {"amount": "100"})
    assert FLOW.search(straight.text) and "assumed-confirm" not in straight.text

    # The same plugin, its top-up and tariff change now declared assumed.
    monkeypatch.setattr(
        ReferenceProvider,
        "provenance",
        {**ReferenceProvider.provenance, "top_up": "assumed", "change_tariff": "assumed"},
    )
    page = await h.page(f"/accounts/{account_id}")
    marks = re.findall(r'id="h-(\w+)">[^<]*<span class="badge[^"]*provenance-assumed', page.text)
    assert set(marks) == {"tariffs", "payments"}
    asked = await h.htmx("POST", f"/accounts/{account_id}/top-up", {"amount": "100"})
    assert asked.status_code == 200
    assert 'id="assumed-confirm"' in asked.text and "Подтвердите ещё раз" in asked.text
    assert "только предположил" in asked.text and not FLOW.search(asked.text)
    assert 'name="amount" value="100"' in asked.text  # what was typed goes on with it
    confirmed = await h.htmx(
        "POST", f"/accounts/{account_id}/top-up", {"amount": "100", "confirm_assumed": "1"}
    )
    assert FLOW.search(confirmed.text), confirmed.text[:300]
    # Switching a service off moves no money: no second question.
    services = await h.htmx("GET", f"/accounts/{account_id}/services")
    toggle = re.search(rf'hx-post="/accounts/{account_id}/services/([^"]+)"', services.text)
    assert toggle is not None
    off = await h.htmx(
        "POST", f"/accounts/{account_id}/services/{toggle.group(1)}", {"enabled": "0"}
    )
    assert "assumed-confirm" not in off.text


async def test_the_api_asks_once_more_too(
    signed_in: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = signed_in
    account_id = await _link_demo(h)
    tariffs = (await h.api("GET", f"/accounts/{account_id}/tariffs")).json()
    other = next(t["id"] for t in tariffs["available"] if t["id"] != tariffs["current"]["id"])
    proven = await h.api("POST", f"/accounts/{account_id}/tariff", json={"tariff_id": other})
    assert proven.status_code == 200, proven.text
    monkeypatch.setattr(
        ReferenceProvider,
        "provenance",
        {**ReferenceProvider.provenance, "change_tariff": "assumed"},
    )
    refused = await h.api("POST", f"/accounts/{account_id}/tariff", json={"tariff_id": other})
    assert refused.status_code == 422
    assert "assumed wire format" in refused.json()["error"]["detail"]["confirm_assumed"]
    confirmed = await h.api(
        "POST",
        f"/accounts/{account_id}/tariff",
        json={"tariff_id": other, "confirm_assumed": True},
    )
    assert confirmed.status_code == 200, confirmed.text
