"""docs/home-assistant.md: its `rest` configuration works against the API, with a token.

The test reads the YAML out of the document, makes exactly the request it makes (resource,
headers, the token from the `secrets.yaml` line) and evaluates its templates with Jinja2, as
Home Assistant does, against the real answer: the balance, days left, units and device
classes, and availability when the account is not ok.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
import yaml
from sqlalchemy import update

from aggregator.storage.models import BalanceReading, LinkedAccount, utcnow

from .conftest import Harness
from .test_security import _link_demo
from .test_tokens import _create_on_page

DOC = Path(__file__).resolve().parents[2] / "docs" / "home-assistant.md"


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!secret", lambda loader, node: ("secret", loader.construct_scalar(node)))


def _blocks() -> list[Any]:
    text = DOC.read_text(encoding="utf-8")
    return [yaml.load(b, Loader=_Loader) for b in re.findall(r"```yaml\n(.*?)```", text, re.S)]


def _render(template: str, value_json: Any) -> str:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    return env.from_string(template).render(value_json=value_json).strip()


def test_the_document_has_the_configuration() -> None:
    secrets, config = _blocks()
    assert secrets["aggregator_token"].startswith("Bearer agg_")
    (entry,) = config["rest"]
    assert entry["headers"]["Authorization"] == ("secret", "aggregator_token")
    balance, days = entry["sensor"]
    assert (balance["device_class"], balance["unit_of_measurement"]) == ("monetary", "RUB")
    assert balance["state_class"] == "total"  # the only one HA allows for monetary
    assert (days["device_class"], days["unit_of_measurement"]) == ("duration", "d")
    assert all(sensor.get("availability") for sensor in (balance, days))
    assert len({balance["unique_id"], days["unique_id"]}) == 2


async def test_the_configuration_reads_balance_and_days_with_a_token(
    signed_in: Harness,
) -> None:
    h = signed_in
    account_id = await _link_demo(h)
    server = h.app.state.server
    today = dt.date.today()
    spend = {
        "first_at": f"{today - dt.timedelta(days=20)}T12:00:00+00:00",
        "last_at": f"{today}T12:00:00+00:00",
        "last": None,
        "days": {str(today - dt.timedelta(days=n)): 30_00 for n in range(1, 20)},
    }
    async with server.db() as db:
        await db.execute(
            update(LinkedAccount)
            .where(LinkedAccount.id == account_id)
            .values(status="ok", spend_history=spend)
        )
        db.add(BalanceReading(account_id=account_id, at=utcnow(), amount_minor=450_50))
        await db.commit()
    token = await _create_on_page(h, "Home Assistant", "read")
    h.client.cookies.clear()

    secrets, config = _blocks()
    (entry,) = config["rest"]
    resource = entry["resource"].replace("/accounts/1", f"/accounts/{account_id}")
    headers = {
        name: secrets[value[1]].replace("agg_PASTE_THE_TOKEN_HERE", token)
        if isinstance(value, tuple)
        else value
        for name, value in entry["headers"].items()
    }
    response = await h.client.get(urlsplit(resource).path, headers=headers)
    assert response.status_code == 200, response.text
    value_json = response.json()
    account = value_json["account"]
    balance, days = entry["sensor"]

    assert _render(balance["availability"], value_json) == "True", account
    state = float(_render(balance["value_template"], value_json))
    assert state == 450.5 == float(account["balance"]["amount"])
    assert account["balance"]["currency"] == "RUB"
    assert account["days_left"] is not None, account
    assert _render(days["availability"], value_json) == "True"
    assert int(_render(days["value_template"], value_json)) == account["days_left"]
    path = balance["json_attributes_path"]
    assert path == "$.account"
    assert set(balance["json_attributes"]) <= set(account)

    # Not ok: both sensors say unavailable instead of a number that may be stale.
    async with server.db() as db:
        await db.execute(
            update(LinkedAccount).where(LinkedAccount.id == account_id).values(status="needs_login")
        )
        await db.commit()
    value_json = (await h.client.get(urlsplit(resource).path, headers=headers)).json()
    assert value_json["account"]["status"] == "needs_login"
    assert _render(balance["availability"], value_json) == "False"
    assert _render(days["availability"], value_json) == "False"

    # A revoked or wrong token: 401, the sensors go unavailable.
    wrong = dict(headers, Authorization=headers["Authorization"] + "x")
    assert (await h.client.get(urlsplit(resource).path, headers=wrong)).status_code == 401
