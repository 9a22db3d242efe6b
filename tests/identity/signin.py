"""Helpers of the sign-in tests: a client and a user, PKCE values, and a browser's way through
/authorize (load the page, read its form, submit it)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import httpx

from mims.identity.clients import Registration, register_client
from mims.identity.storage import SqlClientStore
from mims.identity.user_storage import SqlUserStore
from mims.identity.users import User, register_user

REDIRECT_URI = "http://127.0.0.1:8000/auth/callback"
PASSWORD = "correct horse battery"


def pkce() -> tuple[str, str]:
    """A code_verifier and its S256 code_challenge (RFC 7636 section 4)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def add_client(
    identity,
    *,
    public: bool = True,
    scopes: tuple[str, ...] = ("context:read", "permit:submit", "permit:review"),
    grants: tuple[str, ...] = ("authorization_code", "refresh_token"),
    name: str = "City portal",
) -> Registration:
    return await register_client(
        SqlClientStore(identity.app.state.engine),
        name=name,
        scopes=scopes,
        platform_scopes=identity.app.state.settings.scopes,
        grant_types=grants,
        token_endpoint_auth_method="none" if public else "client_secret_basic",
        redirect_uris=[REDIRECT_URI],
    )


async def add_user(identity, username: str = "anna", roles: tuple[str, ...] = ("citizen",)) -> User:
    return await register_user(
        SqlUserStore(identity.app.state.engine),
        username=username,
        password=PASSWORD,
        roles=roles,
        name="Anna de Vries",
        email="anna@example.org",
    )


@dataclass
class Page:
    """What a browser sees of the sign-in page."""

    lang: str | None = None
    title: str = ""
    action: str | None = None
    inputs: dict[str, dict[str, str]] = field(default_factory=dict)
    buttons: list[dict[str, str]] = field(default_factory=list)
    links: list[dict[str, str]] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    text: str = ""


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.page = Page()
        self._in_title = False
        self._alert_depth = 0
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag not in ("input", "meta", "link", "br"):
            self._depth += 1
        if tag == "html":
            self.page.lang = values.get("lang")
        elif tag == "title":
            self._in_title = True
        elif tag == "form":
            self.page.action = values.get("action")
        elif tag == "input":
            self.page.inputs[values["name"]] = values
        elif tag == "button":
            self.page.buttons.append(values)
        elif tag == "a":
            self.page.links.append(values)
        if values.get("role") == "alert":
            self._alert_depth = self._depth
            self.page.alerts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if self._alert_depth and self._depth == self._alert_depth:
            self._alert_depth = 0
        self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.page.title += data
        if self._alert_depth:
            self.page.alerts[-1] += data
        self.page.text += data


def read_page(html: str) -> Page:
    reader = _Reader()
    reader.feed(html)
    return reader.page


def authorize_params(client_id: str, challenge: str | None, **extra: str) -> dict[str, str]:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI, "state": "xyz"}
    if challenge is not None:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    return params | extra


async def submit(
    http: httpx.AsyncClient, page: Page, *, username: str = "anna", password: str = PASSWORD, decision: str = "allow"
) -> httpx.Response:
    """Fill in and submit the page's form as a browser would (hidden fields included)."""
    data = {name: values.get("value", "") for name, values in page.inputs.items()}
    data |= {"username": username, "password": password, "decision": decision}
    return await http.post(page.action, data=data)


def redirect_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    return {name: values[0] for name, values in parse_qs(location.query).items()}


async def sign_in(http: httpx.AsyncClient, params: dict[str, str], **form: str) -> dict[str, str]:
    """The whole front channel: the page, the form submitted; the redirect's parameters."""
    response = await http.get("/authorize", params=params)
    assert response.status_code == 200, response.text
    return redirect_params(await submit(http, read_page(response.text), **form))
