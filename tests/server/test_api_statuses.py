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


async def test_the_openapi_document_names_our_errors_statuses_and_media_types(
    harness: Harness,
) -> None:
    schema = (await harness.client.get("/api/schema/openapi.json")).json()
    error = schema["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["required"] == ["key", "message", "action"]
    assert not any("ValidationException" in name for name in schema["components"]["schemas"])
    operations = [
        (path, method, op)
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/")
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert operations
    for path, method, op in operations:
        for status in ("400", "401", "422"):
            body = op["responses"][status]["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/Error"}, (path, method, status)
        if "{" in path:
            assert "404" in op["responses"], (path, method)
    tariffs = schema["paths"]["/api/v1/accounts/{account_id}/tariffs"]["get"]["responses"]
    assert {"409", "502", "503"} <= set(tariffs)
    reports = schema["paths"]["/api/v1/accounts/{account_id}/reports"]["get"]["responses"]
    assert "application/pdf" in reports["200"]["content"]
    assert "application/octet-stream" not in reports["200"]["content"]
