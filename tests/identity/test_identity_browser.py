"""The sign-in page in a real browser: headless Chromium, driven by keyboard as a person would.

The identity MIM is served by uvicorn on a free loopback port and the client's redirect URI by a
small receiver on another; the code the browser brings there is exchanged at /token with the
PKCE verifier, so the whole authorization code flow runs end to end.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from browser import CHROMIUM, CHROMIUM_FLAGS, require_browser
from playwright import sync_api as playwright
from serving import free_port
from serving import served as served_app
from signin import PASSWORD, pkce

from mims.identity.bootstrap import identity_storage
from mims.identity.clients import register_client
from mims.identity.service import create_app
from mims.identity.storage import SqlClientStore
from mims.identity.user_storage import SqlUserStore
from mims.identity.users import register_user


@dataclass
class Served:
    issuer: str
    client_id: str
    redirect_uri: str
    #: The URLs the browser arrived at on the client's side.
    arrived: list[str]


@contextmanager
def _receiver() -> Iterator[tuple[str, list[str]]]:
    """The client's redirect URI: records each request's URL and answers a small page."""
    arrived: list[str] = []

    class Callback(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            arrived.append(f"http://127.0.0.1:{server.server_port}{self.path}")
            body = b"<!doctype html><html lang=en><title>Signed in</title><p>back at the client</p></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Callback)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/auth/callback", arrived
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """Identity on a free loopback port, with a public client and the user anna (a citizen)."""
    require_browser()
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    app = create_app(data_dir=tmp_path, issuer=issuer)
    settings = app.state.settings

    async def seed(redirect_uri: str) -> str:
        async with identity_storage(settings) as engine:
            await register_user(SqlUserStore(engine), username="anna", password=PASSWORD, roles=["citizen"])
            registration = await register_client(
                SqlClientStore(engine),
                name="City portal",
                scopes=["context:read", "permit:submit"],
                platform_scopes=settings.scopes,
                grant_types=["authorization_code", "refresh_token"],
                token_endpoint_auth_method="none",
                redirect_uris=[redirect_uri],
            )
            return registration.client.client_id

    with _receiver() as (redirect_uri, arrived):
        client_id = asyncio.run(seed(redirect_uri))
        with served_app(app, port):
            yield Served(issuer, client_id, redirect_uri, arrived)


@pytest.fixture
def page(tmp_path: Path):
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def _focused(page) -> str:
    """What has keyboard focus: an element's id, or its tag and text."""
    return page.evaluate("() => document.activeElement.id || document.activeElement.tagName + ':' + document.activeElement.textContent.trim()")


def test_a_citizen_signs_in_by_keyboard_and_the_client_gets_a_working_code(served: Served, page, tmp_path: Path) -> None:
    verifier, challenge = pkce()
    params = {
        "response_type": "code",
        "client_id": served.client_id,
        "redirect_uri": served.redirect_uri,
        "scope": "openid profile context:read",
        "state": "s-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "ui_locales": "nl",
    }
    page.goto(f"{served.issuer}/authorize?{urlencode(params)}")
    assert page.get_attribute("html", "lang") == "nl"
    assert "City portal" in page.inner_text("main")
    page.screenshot(path=str(tmp_path / "authorize-nl.png"), full_page=True)

    # Keyboard only: Tab through the page in its visual order, type, press Enter on "allow".
    order = []
    for _ in range(5):
        page.keyboard.press("Tab")
        order.append(_focused(page))
    assert order[0].startswith("A:"), order  # the language switch, at the top
    assert order[1:3] == ["username", "password"], order
    assert order[3].startswith("BUTTON:") and order[4].startswith("BUTTON:"), order
    page.focus("#username")
    page.keyboard.type("anna")
    page.keyboard.press("Tab")
    page.keyboard.type("not the password")
    page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    # A failed sign-in: the error summary is announced (role=alert) and has focus.
    assert page.get_attribute("html", "lang") == "nl"
    assert page.is_visible("[role=alert]")
    assert _focused(page) == "error-summary"
    assert page.get_attribute("#password", "aria-invalid") == "true"
    page.screenshot(path=str(tmp_path / "authorize-error-nl.png"), full_page=True)

    page.focus("#password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(served.redirect_uri + "?*")

    callbacks = [url for url in served.arrived if url.startswith(served.redirect_uri + "?")]
    assert len(callbacks) == 1 and page.title() == "Signed in"
    query = {name: values[0] for name, values in parse_qs(urlsplit(callbacks[0]).query).items()}
    assert query["state"] == "s-1" and query["iss"] == served.issuer
    token = httpx.post(
        f"{served.issuer}/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": served.redirect_uri,
            "client_id": served.client_id,
            "code_verifier": verifier,
        },
    )
    assert token.status_code == 200, token.text
    body = token.json()
    assert set(body["scope"].split()) == {"openid", "profile", "context:read"}
    userinfo = httpx.get(f"{served.issuer}/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert userinfo.status_code == 200 and userinfo.json()["preferred_username"] == "anna"


def test_the_language_switch_keeps_the_request_and_is_remembered(served: Served, page, tmp_path: Path) -> None:
    _, challenge = pkce()
    params = {
        "response_type": "code",
        "client_id": served.client_id,
        "redirect_uri": served.redirect_uri,
        "scope": "context:read",
        "state": "s-2",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page.set_extra_http_headers({"Accept-Language": "nl-NL,nl;q=0.9"})
    page.goto(f"{served.issuer}/authorize?{urlencode(params)}")
    assert page.get_attribute("html", "lang") == "nl"
    dutch_title = page.title()

    with page.expect_navigation():
        page.click("header a")
    assert page.get_attribute("html", "lang") == "en"
    assert page.title() != dutch_title
    assert page.is_visible("#username") and "City portal" in page.inner_text("main")
    page.screenshot(path=str(tmp_path / "authorize-en.png"), full_page=True)

    # The choice outlives the page: the same request again, still asking for Dutch, is English.
    page.goto(f"{served.issuer}/authorize?{urlencode(params)}")
    assert page.get_attribute("html", "lang") == "en"
