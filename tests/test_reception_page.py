"""The reception page is served without a token, under its own strict Content-Security-Policy."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from app.api.reception import CONTENT_SECURITY_POLICY


def test_the_page_loads_without_a_token_under_a_strict_policy(client: TestClient) -> None:
    response = client.get("/reception")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src" not in CONTENT_SECURITY_POLICY  # default-src 'self': no inline script
    assert response.headers["x-frame-options"] == "DENY"
    assert '<html lang="fr">' in response.text


def test_the_page_has_no_inline_script_or_style_and_nothing_from_outside(
    client: TestClient,
) -> None:
    page = client.get("/reception").text

    assert re.findall(r"<script[^>]*>", page) == ['<script src="/reception/reception.js" defer>']
    assert "<style" not in page
    assert " style=" not in page
    assert not re.search(r" on[a-z]+=", page)
    assert "http://" not in page and "https://" not in page


def test_assets_are_served_with_their_content_types(client: TestClient) -> None:
    script = client.get("/reception/reception.js")
    style = client.get("/reception/reception.css")

    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert style.status_code == 200
    assert style.headers["content-type"].startswith("text/css")
    assert script.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_only_the_page_assets_are_served(client: TestClient) -> None:
    for path in ("/reception/__init__.py", "/reception/..%2F..%2Fconfig.py", "/reception/x.js"):
        assert client.get(path).status_code == 404, path


def test_the_script_never_writes_html(client: TestClient) -> None:
    script = client.get("/reception/reception.js").text

    assert "innerHTML" not in script
    assert "insertAdjacentHTML" not in script
    assert "document.write" not in script
    assert "localStorage" not in script
