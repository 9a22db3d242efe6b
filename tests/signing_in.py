"""Signing in to the portal as a person does: through the identity MIM's sign-in page (an
authorization code with PKCE), over HTTP as a browser without JavaScript goes, or in Chromium.
Also the identity MIM as its first start leaves it, with the demo users' passwords it prints once.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from re import Pattern

import httpx
from playwright.sync_api import Page
from rich.console import Console
from serving import free_port, served

import mims.identity.service
from mims.identity.admin import first_start

#: How identity's first start prints a demo user: ``  user citizen (citizen), password XXXX``.
_DEMO_USER = re.compile(r"^\s*user (?P<username>\S+) \([^)]*\), password (?P<password>\S+)\s*$", re.MULTILINE)
_FORM = re.compile(r'<form method="post" action="([^"]+)"')
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def demo_passwords(printed: str) -> dict[str, str]:
    """The demo users' passwords by username, from what identity's first start printed."""
    return {match["username"]: match["password"] for match in _DEMO_USER.finditer(printed)}


@contextmanager
def identity_served(folder: Path, gateway_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """The identity MIM after its first start in ``folder`` for a portal at ``gateway_url``, served
    on a free port: its address and the demo users' passwords."""
    printed = io.StringIO()
    first_start(data_dir=folder, console=Console(file=printed, width=200), gateway_url=gateway_url)
    passwords = demo_passwords(printed.getvalue())
    assert passwords, f"first start printed no demo user:\n{printed.getvalue()}"
    port = free_port()
    with served(mims.identity.service.create_app(data_dir=folder, port=port), port) as url:
        yield url, passwords


def sign_in_form(http: httpx.Client, location: str) -> tuple[str, dict[str, str]]:
    """The identity MIM's sign-in form at ``location`` (an authorization request): the address it
    posts to and its hidden fields."""
    page = http.get(location, follow_redirects=False)
    found = _FORM.search(page.text)
    assert page.status_code == 200 and found, f"no sign-in form at {page.url} ({page.status_code}): {page.text[:400]}"
    fields = {name: html.unescape(value) for name, value in _HIDDEN.findall(page.text)}
    return str(page.url.join(html.unescape(found[1]))), fields


def _allowed(http: httpx.Client, location: str, username: str, password: str) -> str:
    """Sign in at the identity MIM and allow the portal; where the identity MIM sends the browser back."""
    action, fields = sign_in_form(http, location)
    back = http.post(action, data={**fields, "username": username, "password": password, "decision": "allow"},
                     follow_redirects=False)
    assert back.status_code == 302, back.text
    return back.headers["location"]


def front_channel(location: str, username: str, password: str) -> str:
    """A browser's part of a sign-in at the identity MIM, started at ``location``: where it is sent back to."""
    with httpx.Client() as browser:
        return _allowed(browser, location, username, password)


def sign_in(http: httpx.Client, username: str, password: str, next_path: str = "/") -> httpx.Response:
    """Sign ``http`` (a client of the gateway) in to the portal; the portal's answer at its callback,
    which sends the browser on to ``next_path``."""
    start = http.get("/auth/login", params={"next": next_path}, follow_redirects=False)
    assert start.status_code == 303, start.text
    return http.get(_allowed(http, start.headers["location"], username, password), follow_redirects=False)


@contextmanager
def signed_in(gateway: str, username: str, password: str, next_path: str = "/", *,
              lang: str) -> Iterator[httpx.Client]:
    """A client of the portal at ``gateway``, signed in as ``username``, that follows redirects as a
    browser does and reads the portal in ``lang`` (its language cookie, set before signing in)."""
    with httpx.Client(base_url=gateway, follow_redirects=True, timeout=60, cookies={"oup_lang": lang}) as http:
        back = sign_in(http, username, password, next_path)
        assert back.status_code == 303 and back.headers["location"] == next_path, back.text
        yield http


def sign_in_in_browser(page: Page, username: str, password: str, back_to: str | Pattern[str], *,
                       keyboard: bool = False) -> None:
    """On the identity MIM's sign-in page (in English): sign in as ``username``, allow the portal by
    mouse or ``keyboard``, and wait until the browser is back at ``back_to`` (a URL, glob or pattern)."""
    page.fill("#username", username)
    page.fill("#password", password)
    allow = page.get_by_role("button", name="Allow", exact=True)
    with page.expect_navigation(url=back_to):
        if keyboard:
            allow.press("Enter")
        else:
            allow.click()


def csrf(page: str) -> str:
    """The form token a portal page carries in its forms' hidden ``csrf`` field."""
    found = _CSRF.search(page)
    assert found, f"no form token on the page: {page[:400]}"
    return found[1]
