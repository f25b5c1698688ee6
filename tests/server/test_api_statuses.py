"""Statuses the API answers where the attack review found a 500."""

from __future__ import annotations

from .conftest import Harness


async def test_reports_answer_401_signed_out(harness: Harness) -> None:
    response = await harness.client.get(
        "/api/v1/accounts/1/reports", params={"start": "2024-01-01", "end": "2024-02-01"}
    )
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["key"]
