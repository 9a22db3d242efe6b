"""The portal's sign-in over real HTTP, as a browser without JavaScript goes through it: the
gateway sends it to the identity MIM's sign-in page (authorization code + PKCE), the identity MIM
sends it back with a code, the portal exchanges it and knows the person; sign-out revokes.
Also the language switch and the portal's words."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import ECKey
from serving import closed_port, free_port, served
from signing_in import front_channel, identity_served, sign_in, sign_in_form
from starlette.requests import Request
from starlette.responses import Response

from gateway.portal import oauth, pages, sessions, signin
from gateway.portal.sessions import SessionStore
from gateway.portal.upstream import Platform as PlatformAPIs
from gateway.portal.upstream import UpstreamError
from gateway.service import create_app
from gateway.settings import GatewaySettings
from mims.kit.logging import request_id_var

LOCALES = Path(__file__).resolve().parents[2] / "gateway" / "portal" / "locales"
BROWSER = "b" * 43  # the id binding a browser's sign-ins


@dataclass
class Platform:
    gateway: str
    identity: str
    password: str  # the demo citizen's, printed once at first start
    app: FastAPI  # the gateway's, to look into its sessions


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    folder = tmp_path_factory.mktemp("portal")
    gateway_port = free_port()
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    with identity_served(folder / "identity", gateway_url) as (identity_url, passwords):
        gateway = create_app(data_dir=folder / "gateway", port=gateway_port, identity_url=identity_url)
        with served(gateway, gateway_port):
            yield Platform(gateway_url, identity_url, passwords["citizen"], gateway)


def _signed_in(platform: Platform, next_path: str = "/") -> tuple[httpx.Client, httpx.Response]:
    """A browser signed in as the demo citizen; the portal's last answer (the way back)."""
    http = httpx.Client(base_url=platform.gateway, follow_redirects=False)
    return http, sign_in(http, "citizen", platform.password, next_path)


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
        # Forms go to the portal, and after a session ended on by redirect to the sign-in page only.
        assert f"form-action 'self' {platform.identity}" in home.headers["content-security-policy"]


def test_a_sign_in_is_completed_once_and_only_in_the_browser_that_started_it(platform: Platform) -> None:
    http = httpx.Client(base_url=platform.gateway, follow_redirects=False)
    start = http.get("/auth/login")
    action, fields = sign_in_form(http, start.headers["location"])
    back = http.post(action, data={**fields, "username": "citizen", "password": platform.password,
                                   "decision": "allow"})
    callback = back.headers["location"]
    with httpx.Client(base_url=platform.gateway) as stranger:  # another browser: no session
        refused = stranger.get(callback)
        assert refused.status_code == 400 and ("sign in again" in refused.text.lower() or "opnieuw" in refused.text)
    with closing(http):
        assert http.get(callback).status_code == 303
        replayed = http.get(callback)
        assert replayed.status_code == 400 and 'role="alert"' in replayed.text


def test_starting_a_sign_in_opens_no_session_and_finishing_one_opens_a_new_one(platform: Platform) -> None:
    sessions, pending = platform.app.state.portal.sessions, platform.app.state.portal.pending
    before = len(sessions)
    for _ in range(5):
        with httpx.Client(base_url=platform.gateway) as visitor:
            start = visitor.get("/auth/login", follow_redirects=False)
            assert start.status_code == 303 and "oup_portal_session" not in visitor.cookies
            assert visitor.cookies["oup_portal_signin"]  # binds the sign-in to this browser, briefly
    assert len(sessions) == before and len(pending) >= 5

    # A session someone else knows (planted in this browser) does not become the signed-in one.
    planted = sessions.new()
    planted, csrf = planted.id, planted.csrf
    http = httpx.Client(base_url=platform.gateway, follow_redirects=False)
    http.cookies.set("oup_portal_session", planted, domain="127.0.0.1")
    with closing(http):
        assert planted in http.get("/").headers["set-cookie"]  # the portal knows it
        start = http.get("/auth/login")
        action, fields = sign_in_form(http, start.headers["location"])
        back = http.post(action, data={**fields, "username": "citizen", "password": platform.password,
                                       "decision": "allow"})
        assert http.get(back.headers["location"]).status_code == 303
        signed_in = sessions.get(http.cookies["oup_portal_session"])
        assert signed_in.id != planted and signed_in.csrf != csrf and signed_in.person.username == "citizen"
        assert sessions.get(planted) is None


def test_the_callback_shows_only_its_own_words(platform: Platform) -> None:
    lure = "Call +31 20 555 0100 to unlock your account"
    with httpx.Client(base_url=platform.gateway, follow_redirects=False, cookies={"oup_lang": "en"}) as http:
        unknown = http.get("/auth/callback", params={"state": "made-up", "error": "access_denied",
                                                      "error_description": lure})
        assert unknown.status_code == 400 and "sign in again" in unknown.text and lure not in unknown.text
        state = parse_qs(urlsplit(http.get("/auth/login").headers["location"]).query)["state"][0]
        refused = http.get("/auth/callback", params={"state": state, "error": "invalid_scope",
                                                      "error_description": lure})
        assert refused.status_code == 400 and lure not in refused.text
        assert "did not accept this sign-in" in refused.text
        used = http.get("/auth/callback", params={"state": state, "code": "c"})
        assert used.status_code == 400 and "already used" in used.text  # an error ends the sign-in too


def test_a_token_the_platform_refuses_shows_an_error_instead_of_signing_in_again(platform: Platform) -> None:
    http, _ = _signed_in(platform)
    with closing(http):
        session = platform.app.state.portal.sessions.get(http.cookies["oup_portal_session"])
        session.access_token, session.expires_at = "not-a-token", time.time() + 3600
        refused = http.get("/permits", params={"lang": "en"})
        assert refused.status_code == 401 and "did not accept your sign-in" in refused.text
        assert session.person is not None and session.expires_at == 0.0  # the next page refreshes first


def test_a_refusal_at_the_identity_mim_is_shown_not_crashed_on(platform: Platform) -> None:
    with httpx.Client(base_url=platform.gateway, follow_redirects=False, cookies={"oup_lang": "en"}) as http:
        start = http.get("/auth/login")
        action, fields = sign_in_form(http, start.headers["location"])
        back = http.post(action, data={**fields, "username": "citizen", "password": platform.password,
                                       "decision": "deny"})
        denied = http.get(back.headers["location"])
    assert denied.status_code == 403 and "You did not give permission" in denied.text
    assert "Without your permission" in denied.text


def test_an_identity_mim_that_does_not_answer_is_unavailable_not_a_refusal(tmp_path: Path) -> None:
    port = free_port()
    with closed_port() as closed:
        dead = f"http://127.0.0.1:{closed}"
        gateway = create_app(data_dir=tmp_path, port=port, identity_url=dead)
        with served(gateway, port) as url, httpx.Client(base_url=url, follow_redirects=False) as http:
            assert http.get("/auth/login").status_code == 503
            gateway.state.portal.metadata.update({name: f"{dead}/{name}" for name in (
                "issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri")})
            state = parse_qs(urlsplit(http.get("/auth/login").headers["location"]).query)["state"][0]
            down = http.get("/auth/callback", params={"state": state, "code": "c"})
            assert down.status_code == 503 and 'role="alert"' in down.text


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
        # The identity MIM still knows the person: the next sign-in here asks for the password again.
        again = http.get("/auth/login")
        assert parse_qs(urlsplit(again.headers["location"]).query)["prompt"] == ["login"]
        assert sign_in(http, "citizen", platform.password).status_code == 303
        assert "prompt" not in parse_qs(urlsplit(http.get("/auth/login").headers["location"]).query)


async def test_an_expiring_access_token_is_refreshed_and_a_revoked_one_signs_out(platform: Platform) -> None:
    async with httpx.AsyncClient() as identity, httpx.AsyncClient() as unused:
        portal = oauth.Portal(identity_url=platform.identity, client_id="demo-portal",
                              scopes="openid profile context:read", sessions=SessionStore(),
                              platform_client=unused, identity_client=identity,
                              redirect_uri=f"{platform.gateway}/auth/callback")
        location = await oauth.authorization_url(portal, BROWSER, redirect_uri=portal.redirect_uri, next_path="/",
                                                 lang="nl")
        state = parse_qs(urlsplit(location).query)["state"][0]
        back = await asyncio.to_thread(front_channel, location, "citizen", platform.password)
        code = parse_qs(urlsplit(back).query)["code"][0]
        session = await oauth.complete(portal, portal.pending.take(state, BROWSER), code=code)
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


# --- The OAuth client against an identity MIM that says what each test needs ------------------

ISSUER = "https://id.example"


class FakeIdentity:
    """An identity MIM in an httpx transport: RFC 8414 metadata, a JWKS, /token and /userinfo."""

    def __init__(self) -> None:
        self.key = ECKey.generate_key("P-256", parameters={"kid": "k1", "alg": "ES256", "use": "sig"})
        self.published = [self.key]
        self.nonce = ""
        self.id_claims: dict[str, object] = {}  # changes to the ID token's claims (None: left out)
        self.token: httpx.Response | None = None  # the token endpoint's answer instead of tokens
        self.userinfo: object = {"sub": "u1", "preferred_username": "ann", "name": "Ann", "roles": ["citizen"]}
        self.forms: list[dict[str, str]] = []
        self.jwks_fetches = 0
        self.down = False

    def id_token(self) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": "demo-portal", "sub": "u1", "iat": now, "exp": now + 300, "nonce": self.nonce}
        claims = {name: value for name, value in {**claims, **self.id_claims}.items() if value is not None}
        return jwt.encode({"alg": "ES256", "kid": self.key.kid, "typ": "JWT"}, claims, self.key)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        path = request.url.path
        if path == "/.well-known/oauth-authorization-server":
            return httpx.Response(200, json={"issuer": ISSUER, **{f"{name}_endpoint": f"{ISSUER}/{name}" for name in (
                "authorization", "token", "userinfo", "revocation")}, "jwks_uri": f"{ISSUER}/jwks"})
        if path == "/jwks":
            self.jwks_fetches += 1
            return httpx.Response(200, json={"keys": [key.as_dict(private=False) for key in self.published]})
        if path == "/token":
            self.forms.append(dict(parse_qs(request.content.decode()).items()))
            return self.token or httpx.Response(200, json={
                "access_token": "at", "refresh_token": "rt", "expires_in": 300, "token_type": "Bearer",
                "scope": "openid profile", "id_token": self.id_token()})
        assert path == "/userinfo" and request.headers["authorization"] == "Bearer at"
        return httpx.Response(200, json=self.userinfo)


@pytest.fixture
async def identity() -> AsyncIterator[tuple[oauth.Portal, FakeIdentity]]:
    fake = FakeIdentity()
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as client:
        yield oauth.Portal(identity_url=ISSUER, client_id="demo-portal", scopes="openid profile",
                           sessions=SessionStore(), platform_client=client, identity_client=client), fake


async def _start(portal: oauth.Portal, fake: FakeIdentity, redirect_uri: str = "https://portal.example/auth/callback"
                 ) -> sessions.PendingSignIn:
    location = await oauth.authorization_url(portal, BROWSER, redirect_uri=redirect_uri, next_path="/", lang="en")
    asked = parse_qs(urlsplit(location).query)
    fake.nonce = asked["nonce"][0]
    return portal.pending.take(asked["state"][0], BROWSER)


async def test_a_sign_in_sends_back_its_own_redirect_uri_and_reads_the_keys_once(identity) -> None:
    portal, fake = identity
    for _ in range(2):
        session = await oauth.complete(portal, await _start(portal, fake, "https://portal.example/cb"), code="c")
        assert session.person.sub == "u1" and session.person.roles == ("citizen",) and session.access_token == "at"
    assert [form["redirect_uri"] for form in fake.forms] == [["https://portal.example/cb"]] * 2
    assert fake.jwks_fetches == 1 and len(portal.sessions) == 2


@pytest.mark.parametrize("claims", [
    {"nonce": "not-the-one"}, {"nonce": None}, {"aud": "another-client"}, {"aud": None},
    {"iss": "https://elsewhere.example"}, {"exp": int(time.time()) - 3600}, {"sub": "u2"},
], ids=lambda claims: ",".join(f"{name}={'past' if name == 'exp' else value}" for name, value in claims.items()))
async def test_an_id_token_not_issued_for_this_sign_in_is_refused(identity, claims: dict[str, object]) -> None:
    portal, fake = identity
    pending = await _start(portal, fake)
    fake.id_claims = claims
    with pytest.raises(oauth.SignInFailed):
        await oauth.complete(portal, pending, code="c")
    assert len(portal.sessions) == 0


async def test_an_id_token_needs_a_published_key_and_a_new_one_is_looked_up(
    identity, monkeypatch: pytest.MonkeyPatch
) -> None:
    portal, fake = identity
    monkeypatch.setattr(oauth, "KEYS_MIN_REFETCH", 0)
    await oauth.complete(portal, await _start(portal, fake), code="c")
    fake.key = ECKey.generate_key("P-256", parameters={"kid": "k2", "alg": "ES256", "use": "sig"})
    with pytest.raises(oauth.SignInFailed, match="key"):  # signed by a key the identity MIM does not publish
        await oauth.complete(portal, await _start(portal, fake), code="c")
    assert fake.jwks_fetches == 2  # read again for the unknown kid
    fake.published.append(fake.key)  # rotated: published now
    assert (await oauth.complete(portal, await _start(portal, fake), code="c")).person.sub == "u1"
    assert fake.jwks_fetches == 3
    pending = await _start(portal, fake)
    fake.token = httpx.Response(200, json={"access_token": "at", "expires_in": 300})  # no ID token at all
    with pytest.raises(oauth.SignInFailed, match="no ID token"):
        await oauth.complete(portal, pending, code="c")


@pytest.mark.parametrize("userinfo", [
    ["u1"], {"name": "Ann"}, {"sub": 7}, {"sub": "u1", "roles": "admin"}, {"sub": "u1", "roles": [1]},
], ids=str)
async def test_who_signed_in_must_be_said_properly(identity, userinfo: object) -> None:
    portal, fake = identity
    pending = await _start(portal, fake)
    fake.userinfo = userinfo
    with pytest.raises(oauth.SignInFailed):
        await oauth.complete(portal, pending, code="c")


@pytest.mark.parametrize("answer", [
    httpx.Response(200, json=["at"]), httpx.Response(200, json={"access_token": "at", "expires_in": "soon"}),
    httpx.Response(200, text="<html>"), httpx.Response(400, json={"error": "invalid_grant"}),
], ids=["list", "expires_in", "html", "invalid_grant"])
async def test_a_wrong_token_answer_fails_the_sign_in(identity, answer: httpx.Response) -> None:
    portal, fake = identity
    pending = await _start(portal, fake)
    fake.token = answer
    with pytest.raises(oauth.SignInFailed):
        await oauth.complete(portal, pending, code="c")


async def test_an_identity_mim_that_does_not_answer_signs_nobody_out(identity) -> None:
    portal, fake = identity
    session = await oauth.complete(portal, await _start(portal, fake), code="c")
    session.expires_at = time.time()  # due for a refresh
    for trouble in ("down", httpx.Response(503, text="busy"), httpx.Response(502, json={"error": "server_error"})):
        fake.down, fake.token = trouble == "down", trouble if trouble != "down" else None
        with pytest.raises(oauth.IdentityUnavailable):
            await oauth.fresh_access_token(portal, session)
        assert session.person is not None and session.refresh_token == "rt"
    fake.down, fake.token = False, None
    assert await oauth.fresh_access_token(portal, session) == "at" and session.expires_at > time.time() + 60
    session.expires_at = time.time()
    fake.token = httpx.Response(400, json={"error": "invalid_grant"})  # refused: signed out
    assert await oauth.fresh_access_token(portal, session) is None and session.person is None

    pending = await _start(portal, fake)
    fake.token = httpx.Response(500, text="oops")
    with pytest.raises(oauth.IdentityUnavailable):
        await oauth.complete(portal, pending, code="c")


# --- Sessions, cookies and the portal's calls of the platform --------------------------------

def _request(public_url: str | None = None, headers: dict[str, str] | None = None) -> Request:
    settings = GatewaySettings(public_url=public_url) if public_url else GatewaySettings()
    app = FastAPI()
    app.state.settings = settings
    return Request({"type": "http", "method": "GET", "path": "/", "scheme": "http", "server": ("gw", 80),
                    "query_string": b"", "app": app,
                    "headers": [(name.encode(), value.encode()) for name, value in (headers or {}).items()]})


def test_a_sign_in_under_way_is_kept_briefly_and_only_for_its_browser() -> None:
    store = sessions.PendingStore(seconds=0.2, size=3)
    pending = sessions.PendingSignIn(browser=BROWSER, verifier="v", nonce="n", redirect_uri="r", next="/")
    store.put("s1", pending)
    assert store.take("s1", "x" * 43) is None and store.take("s1", None) is None  # another browser's
    assert store.take("s1", BROWSER) is pending and store.take("s1", BROWSER) is None  # once
    for state in ("a", "b", "c", "d"):
        store.put(state, pending)
    assert len(store) == 3 and store.take("a", BROWSER) is None  # bounded: the oldest went
    time.sleep(0.3)
    assert store.take("d", BROWSER) is None and len(store) == 0  # expired


def test_cookies_are_secure_when_the_public_url_is_https() -> None:
    session = sessions.Session(id="i", csrf="c")
    for public_url, secure in ((None, False), ("https://city.example", True)):
        response = Response()
        sessions.remember(response, session, _request(public_url))
        sessions.remember_browser(response, BROWSER, _request(public_url))
        pages.remember_language(response, "en", _request(public_url))
        cookies = response.headers.getlist("set-cookie")
        assert len(cookies) == 3 and all(("; secure" in cookie.lower()) is secure for cookie in cookies), cookies


def test_the_callback_is_at_the_public_url_unless_one_is_configured() -> None:
    assert signin.redirect_uri(_with_portal(_request("https://city.example/"), None)) == "https://city.example/auth/callback"
    assert signin.redirect_uri(_with_portal(_request(), None)) == "http://gw/auth/callback"
    assert signin.redirect_uri(_with_portal(_request("https://city.example/"), "https://x.example/cb")) == \
        "https://x.example/cb"


def _with_portal(request: Request, redirect_uri: str | None) -> Request:
    request.app.state.portal = SimpleNamespace(redirect_uri=redirect_uri)
    return request


async def test_the_platform_is_called_with_the_page_requests_id() -> None:
    seen: list[httpx.Request] = []

    def platform_app(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(401, json={"detail": "no"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(platform_app), base_url="http://gw") as client:
        reset = request_id_var.set("page-request-1")
        try:
            for token in (None, "at"):
                with pytest.raises(UpstreamError) as refused:
                    await PlatformAPIs(client, _request(headers={"host": "city.example"}), token).get_json("/x")
                assert refused.value.status == 401 and refused.value.authorized is (token is not None)
        finally:
            request_id_var.reset(reset)
    assert [request.headers["x-request-id"] for request in seen] == ["page-request-1"] * 2
    assert seen[0].headers["host"] == "city.example" and "authorization" not in seen[0].headers


def test_templates_are_not_checked_for_changes_on_every_page() -> None:
    assert pages._TEMPLATES.auto_reload is False
