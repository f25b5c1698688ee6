"""The API docs page lives in the dashboard's frame: its menu, its language, a way back."""

from __future__ import annotations

from .conftest import Harness


async def test_api_docs_page_in_the_app_frame(signed_in: Harness) -> None:
    h = signed_in
    response = await h.page("/api/schema")
    assert response.status_code == 200
    page = response.text
    assert '<html lang="ru">' in page and "API панели" in page
    assert 'class="mainnav"' in page and 'href="/settings">← Назад к настройкам' in page
    assert 'id="swagger" data-spec-url="/api/schema/openapi.json"' in page
    assert "swagger-ui-bundle.js" in page and "<script>" not in page  # no inline script
