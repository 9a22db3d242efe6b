"""The portal's sign-in over real HTTP, as a browser without JavaScript goes through it: the
gateway sends it to the identity MIM's sign-in page (authorization code + PKCE), the identity MIM
sends it back with a code, the portal exchanges it and knows the person; sign-out revokes.
Also the language switch and the portal's words."""

from __future__ import annotations

import asyncio
import io
import re
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest
from rich.console import Console
from serving import free_port, served

import mims.identity.service
from gateway.portal import oauth
from gateway.portal.sessions import Session, SessionStore
from gateway.service import create_app
from mims.identity.admin import first_start

LOCALES = Path(__file__).resolve().parents[2] / "gateway" / "portal" / "locales"


@dataclass
class Platform:
    gateway: str
    identity: str
    password: str  # the demo citizen's, printed once at first start


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    folder = tmp_path_factory.mktemp("portal")
    identity_port, gateway_port = free_port(), free_port()
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    printed = io.StringIO()
    first_start(data_dir=folder / "identity", console=Console(file=printed, width=200), gateway_url=gateway_url)
    password = re.search(r"user citizen \(citizen\), password (\S+)", printed.getvalue()).group(1)
    identity = mims.identity.service.create_app(data_dir=folder / "identity", port=identity_port)
    gateway = create_app(data_dir=folder / "gateway", port=gateway_port,
                         identity_url=f"http://127.0.0.1:{identity_port}")
    with served(identity, identity_port) as identity_url, served(gateway, gateway_port):
        yield Platform(gateway_url, identity_url, password)


def _sign_in_page(http: httpx.Client, location: str) -> tuple[str, dict[str, str]]:
    """The identity MIM's sign-in form: its action and its fields (hidden ones filled in)."""
    page = http.get(location)
    assert page.status_code == 200, page.text
    action = re.search(r'<form[^>]*action="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    fields = {name: value.replace("&amp;", "&") for name, value in
              re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page.text)}
    return str(page.url.join(action)), fields


def _signed_in(platform: Platform, next_path: str = "/") -> tuple[httpx.Client, httpx.Response]:
    """A browser signed in as the demo citizen; the portal's last answer (the way back)."""
    http = httpx.Client(base_url=platform.gateway, follow_redirects=False)
    start = http.get("/auth/login", params={"next": next_path})
    assert start.status_code == 303, start.text
    action, fields = _sign_in_page(http, start.headers["location"])
    back = http.post(action, data={**fields, "username": "citizen", "password": platform.password,
                                   "decision": "allow"})
    assert back.status_code == 302, back.text
    return http, http.get(back.headers["location"])


def _front_channel(location: str, password: str) -> str:
    """The browser's part at the identity MIM: where it is sent back to."""
    with httpx.Client() as browser:
        action, fields = _sign_in_page(browser, location)
        back = browser.post(action, data={**fields, "username": "citizen", "password": password, "decision": "allow"})
    assert back.status_code == 302, back.text
    return back.headers["location"]


def test_sign_in_asks_for_a_code_with_pkce_and_comes_back_where_it_started(platform: Platform) -> None:
    with httpx.Client(base_url=platform.gateway, cookies={"oup_lang": "en"}) as http:
        start = http.get("/auth/login", params={"next": "/data?q=parking"})
    assert start.status_code == 303
    target = urlsplit(start.headers["location"])
    asked = {name: values[0] for name, values in parse_qs(target.query).items()}
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{platform.identity}/authorize"
    assert asked["response_type"] == "code" and asked["client_id"] == "demo-portal"
    assert asked["redirect_uri"] == f"{platform.gateway}/auth/callback"
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
    assert asked["state"] and asked["nonce"] and asked["ui_locales"] == "en"
    assert "openid" in asked["scope"].split() and "marketplace:consume" in asked["scope"].split()

    http, back = _signed_in(platform, "/data?q=parking")
    with closing(http):
        assert back.status_code == 303 and back.headers["location"] == "/data?q=parking"
        home = http.get("/")
        assert "Demo citizen" in home.text and 'action="/auth/logout"' in home.text
        assert home.headers["cache-control"] == "no-store"  # a signed-in page is nobody else's
        assert "frame-ancestors 'none'" in home.headers["content-security-policy"]
        assert "unsafe-inline" not in home.headers["content-security-policy"]


def test_a_sign_in_is_completed_once_and_only_in_the_browser_that_started_it(platform: Platform) -> None:
    http = httpx.Client(base_url=platform.gateway, follow_redirects=False)
    start = http.get("/auth/login")
    action, fields = _sign_in_page(http, start.headers["location"])
    back = http.post(action, data={**fields, "username": "citizen", "password": platform.password,
                                   "decision": "allow"})
    callback = back.headers["location"]
    with httpx.Client(base_url=platform.gateway) as stranger:  # another browser: no session
        refused = stranger.get(callback)
        assert refused.status_code == 400 and "sign in again" in refused.text.lower() or "opnieuw" in refused.text
    with closing(http):
        assert http.get(callback).status_code == 303
        replayed = http.get(callback)
        assert replayed.status_code == 400 and 'role="alert"' in replayed.text


def test_a_refusal_at_the_identity_mim_is_shown_not_crashed_on(platform: Platform) -> None:
    with httpx.Client(base_url=platform.gateway, follow_redirects=False, cookies={"oup_lang": "en"}) as http:
        start = http.get("/auth/login")
        action, fields = _sign_in_page(http, start.headers["location"])
        back = http.post(action, data={**fields, "username": "citizen", "password": platform.password,
                                       "decision": "deny"})
        denied = http.get(back.headers["location"])
    assert denied.status_code == 403 and "You did not give permission" in denied.text


def test_sign_in_never_sends_the_browser_to_another_site(platform: Platform) -> None:
    http, back = _signed_in(platform, "https://elsewhere.example/steal")
    with closing(http):
        assert back.headers["location"] == "/"
        assert http.get("/language/en", params={"next": "//elsewhere.example"}).headers["location"] == "/"


def test_sign_out_needs_the_form_of_the_session_and_revokes_the_refresh_token(platform: Platform) -> None:
    http, _ = _signed_in(platform)
    with closing(http):
        portal = http.get("/")
        csrf = re.search(r'name="csrf" value="([^"]+)"', portal.text).group(1)
        forged = http.post("/auth/logout", data={"csrf": "not-the-one"})
        assert forged.status_code == 400 and "Demo citizen" in http.get("/").text
        assert http.post("/auth/logout", data={"csrf": csrf}).status_code == 303
        assert "Demo citizen" not in http.get("/").text


async def test_an_expiring_access_token_is_refreshed_and_a_revoked_one_signs_out(platform: Platform) -> None:
    async with httpx.AsyncClient() as identity, httpx.AsyncClient() as unused:
        portal = oauth.Portal(identity_url=platform.identity, client_id="demo-portal",
                              scopes="openid profile context:read", sessions=SessionStore(),
                              platform_client=unused, identity_client=identity,
                              redirect_uri=f"{platform.gateway}/auth/callback")
        session = Session(id="s", csrf="c")
        location = await oauth.authorization_url(portal, session, redirect_uri=portal.redirect_uri, next_path="/",
                                                 lang="nl")
        state = parse_qs(urlsplit(location).query)["state"][0]
        back = await asyncio.to_thread(_front_channel, location, platform.password)
        code = parse_qs(urlsplit(back).query)["code"][0]
        await oauth.complete(portal, session, state=state, code=code, redirect_uri=portal.redirect_uri)
        first = session.access_token
        assert session.person is not None and session.person.username == "citizen"
        assert await oauth.fresh_access_token(portal, session) == first  # still fresh: reused

        session.expires_at = time.time() + 5  # within the leeway: refreshed
        second = await oauth.fresh_access_token(portal, session)
        assert second is not None and second != first and session.expires_at > time.time() + 60

        refresh_token = session.refresh_token
        await oauth.sign_out(portal, session)
        assert session.person is None and await oauth.fresh_access_token(portal, session) is None
        reused = await identity.post(f"{platform.identity}/token", data={
            "grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": "demo-portal"})
        assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"  # revoked at sign-out


def test_the_language_is_switched_by_a_link_and_remembered(platform: Platform) -> None:
    with httpx.Client(base_url=platform.gateway, headers={"accept-language": "nl-NL,nl;q=0.9"}) as http:
        dutch = http.get("/")
        assert '<html lang="nl">' in dutch.text and "Het open dataplatform van de stad" in dutch.text
        assert 'href="/language/en?next=%2F"' in dutch.text
        switched = http.get("/language/en", params={"next": "/"}, follow_redirects=False)
        assert switched.status_code == 303 and "oup_lang=en" in switched.headers["set-cookie"]
        english = http.get("/")
        assert '<html lang="en">' in english.text and english.headers["content-language"] == "en"
        assert "open data platform" in english.text
        unknown = http.get("/language/fr")
        assert unknown.status_code == 404 and "fr" in unknown.text


def test_both_languages_have_every_word() -> None:
    keys = {}
    for lang in ("nl", "en"):
        keys[lang] = set()
        for path in LOCALES.glob(f"*{lang}.json"):
            if path.name == f"{lang}.json" or path.name.endswith(f".{lang}.json"):
                keys[lang] |= set(orjson.loads(path.read_bytes()))
    assert keys["nl"] == keys["en"], {"only nl": keys["nl"] - keys["en"], "only en": keys["en"] - keys["nl"]}
    assert {"site.name", "nav.data", "signin.in"} <= keys["en"]
