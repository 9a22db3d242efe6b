"""/authorize and the code exchange at /token: a person signs in the way a browser does, the
client redeems the code with PKCE, and every refusal of RFC 6749 4.1, RFC 7636 and RFC 9207."""

from __future__ import annotations

import base64
import hashlib
import time

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet
from signin import (
    PASSWORD,
    REDIRECT_URI,
    add_client,
    add_user,
    authorize_params,
    pkce,
    read_page,
    redirect_params,
    sign_in,
    submit,
)

from mims.identity import authorize
from mims.kit.auth import TokenVerifier

ISSUER = "http://127.0.0.1:8001"


async def redeem(identity, client_id: str, code: str, verifier: str | None, **extra: str) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "client_id": client_id}
    if verifier is not None:
        data["code_verifier"] = verifier
    return await identity.http.post("/token", data=data | extra)


async def test_a_citizen_signs_in_and_the_portal_gets_tokens_for_her(identity):
    client = (await add_client(identity)).client
    user = await add_user(identity)
    verifier, challenge = pkce()
    scope = "openid profile context:read permit:submit permit:review"
    params = authorize_params(client.client_id, challenge, scope=scope, nonce="n-0S6")

    answer = await sign_in(identity.http, params)
    assert answer["state"] == "xyz" and answer["iss"] == ISSUER

    response = await redeem(identity, client.client_id, answer["code"], verifier)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    # The citizen role does not include permit:review, so the token does not either.
    assert body["scope"] == "openid profile context:read permit:submit"
    assert body["token_type"] == "Bearer" and body["refresh_token"]

    verified = await TokenVerifier(
        jwks_url=f"{ISSUER}/jwks", issuers=[ISSUER], audience="urn:oup:platform", http=identity.http
    ).verify(body["access_token"])
    assert (verified.sub, verified.client_id) == (user.user_id, client.client_id)
    assert verified.scopes == {"openid", "profile", "context:read", "permit:submit"}

    jwks = KeySet.import_key_set((await identity.http.get("/jwks")).json())
    id_token = jwt.decode(body["id_token"], jwks, algorithms=["ES256"])
    claims = id_token.claims
    assert (claims["iss"], claims["aud"], claims["sub"], claims["nonce"]) == (
        ISSUER,
        client.client_id,
        user.user_id,
        "n-0S6",
    )
    digest = hashlib.sha256(body["access_token"].encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    assert claims["iat"] <= claims["auth_time"] + 5 and claims["exp"] > claims["iat"]
    assert (claims["name"], claims["preferred_username"]) == ("Anna de Vries", "anna")
    assert id_token.header["kid"] == jwks.keys[0].kid

    userinfo = await identity.http.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert userinfo.json() == {
        "sub": user.user_id,
        "name": "Anna de Vries",
        "preferred_username": "anna",
        "roles": ["citizen"],
    }

    refreshed = await identity.http.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"], "client_id": client.client_id},
    )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["refresh_token"] != body["refresh_token"]
    assert refreshed.json()["scope"] == body["scope"]

    # The old refresh token again: it leaked, so its whole family dies, the new one included.
    reused = await identity.http.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"], "client_id": client.client_id},
    )
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
    newest = await identity.http.post(
        "/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refreshed.json()["refresh_token"],
            "client_id": client.client_id,
        },
    )
    assert (newest.status_code, newest.json()["error"]) == (400, "invalid_grant")
    for access_token in (body["access_token"], refreshed.json()["access_token"]):
        denied = await identity.http.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})
        assert denied.status_code == 401


async def test_a_confidential_client_may_skip_pkce_and_authenticates_at_token(identity):
    registration = await add_client(identity, public=False, grants=("authorization_code",))
    await add_user(identity, roles=("officer",))
    answer = await sign_in(identity.http, authorize_params(registration.client.client_id, None, scope="permit:review"))
    auth = (registration.client.client_id, registration.client_secret)
    data = {"grant_type": "authorization_code", "code": answer["code"], "redirect_uri": REDIRECT_URI}
    unauthenticated = await identity.http.post("/token", data=data | {"client_id": registration.client.client_id})
    assert unauthenticated.status_code == 401
    response = await identity.http.post("/token", data=data, auth=auth)
    assert response.status_code == 200, response.text
    # Not registered for refresh_token: no refresh token; no openid scope: no ID token.
    assert response.json().keys() == {"access_token", "token_type", "expires_in", "scope"}
    assert response.json()["scope"] == "permit:review"


async def test_pkce_is_enforced_for_a_confidential_client_that_used_it(identity):
    registration = await add_client(identity, public=False, grants=("authorization_code",))
    await add_user(identity)
    verifier, challenge = pkce()
    answer = await sign_in(identity.http, authorize_params(registration.client.client_id, challenge))
    auth = (registration.client.client_id, registration.client_secret)
    data = {"grant_type": "authorization_code", "code": answer["code"], "redirect_uri": REDIRECT_URI}
    response = await identity.http.post("/token", data=data, auth=auth)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


def assert_refused(response: httpx.Response, error: str) -> dict[str, str]:
    answer = redirect_params(response)
    assert (answer["error"], answer["state"], answer["iss"]) == (error, "xyz", ISSUER)
    assert "code" not in answer
    return answer


async def test_a_public_client_must_send_an_s256_challenge(identity):
    client = (await add_client(identity)).client
    missing = await identity.http.get("/authorize", params=authorize_params(client.client_id, None))
    assert "code_challenge" in assert_refused(missing, "invalid_request")["error_description"]
    _, challenge = pkce()
    for method in ({"code_challenge_method": "plain"}, {}):
        params = {**authorize_params(client.client_id, None), "code_challenge": challenge, **method}
        refused = await identity.http.get("/authorize", params=params)
        assert "S256" in assert_refused(refused, "invalid_request")["error_description"]


async def test_the_code_needs_the_right_verifier_the_right_client_and_redirect_uri_and_works_once(identity):
    client = (await add_client(identity)).client
    other = (await add_client(identity, name="Other portal")).client
    await add_user(identity)
    # Each refusal on a fresh code: a refused redemption spends the code (it is single use).
    refusals = (
        ({"verifier": None}, "invalid_request"),
        ({"redirect_uri": "http://127.0.0.1:8000/other"}, "invalid_grant"),
        ({"verifier": pkce()[0]}, "invalid_grant"),
    )
    for change, error in refusals:
        verifier, challenge = pkce()
        code = (await sign_in(identity.http, authorize_params(client.client_id, challenge)))["code"]
        extra = {name: value for name, value in change.items() if name != "verifier"}
        response = await redeem(identity, client.client_id, code, change.get("verifier", verifier), **extra)
        assert (response.status_code, response.json()["error"]) == (400, error), response.text
        assert (await redeem(identity, client.client_id, code, verifier)).json()["error"] == "invalid_grant"

    verifier, challenge = pkce()
    code = (await sign_in(identity.http, authorize_params(client.client_id, challenge, scope="openid context:read")))[
        "code"
    ]
    # Another client presenting the code does not spend it.
    assert (await redeem(identity, other.client_id, code, verifier)).json()["error"] == "invalid_grant"
    first = await redeem(identity, client.client_id, code, verifier)
    assert first.status_code == 200, first.text
    replay = await redeem(identity, client.client_id, code, verifier)
    assert (replay.status_code, replay.json()["error"]) == (400, "invalid_grant")
    # RFC 6749 4.1.2: what the code gave is revoked when it is presented again.
    tokens = first.json()
    assert (
        await identity.http.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    ).status_code == 401
    refresh = await identity.http.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": client.client_id},
    )
    assert refresh.json()["error"] == "invalid_grant"


async def test_an_unknown_client_or_a_foreign_redirect_uri_is_shown_never_redirected(identity):
    client = (await add_client(identity)).client
    _, challenge = pkce()
    for params in (
        authorize_params("no-such-client", challenge),
        authorize_params(client.client_id, challenge, redirect_uri="https://evil.example/callback"),
        authorize_params(client.client_id, challenge, redirect_uri=REDIRECT_URI + "/"),
        {**authorize_params(client.client_id, challenge), "client_id": ""},
    ):
        response = await identity.http.get("/authorize", params=params)
        assert response.status_code == 400
        assert "location" not in response.headers
        page = read_page(response.text)
        assert page.alerts and page.action is None
        assert page.lang == "nl" and "Inloggen niet mogelijk" in page.title


async def test_other_request_errors_go_back_to_the_client(identity):
    client = (await add_client(identity)).client
    _, challenge = pkce()
    token_response = await identity.http.get(
        "/authorize", params=authorize_params(client.client_id, challenge, response_type="token")
    )
    assert_refused(token_response, "unsupported_response_type")
    prompt_none = await identity.http.get(
        "/authorize", params=authorize_params(client.client_id, challenge, scope="openid", prompt="none")
    )
    assert_refused(prompt_none, "login_required")
    foreign_scope = await identity.http.get(
        "/authorize", params=authorize_params(client.client_id, challenge, scope="admin")
    )
    assert_refused(foreign_scope, "invalid_scope")


async def test_deny_sends_access_denied_without_asking_the_password(identity):
    client = (await add_client(identity)).client
    _, challenge = pkce()
    page = read_page((await identity.http.get("/authorize", params=authorize_params(client.client_id, challenge))).text)
    assert_refused(await submit(identity.http, page, username="", password="", decision="deny"), "access_denied")


async def test_a_wrong_password_and_an_unknown_user_read_the_same(identity):
    client = (await add_client(identity)).client
    await add_user(identity)
    _, challenge = pkce()
    params = authorize_params(client.client_id, challenge)
    answers = []
    for username, password in (("anna", "not her password"), ("nobody", PASSWORD)):
        page = read_page((await identity.http.get("/authorize", params=params)).text)
        response = await submit(identity.http, page, username=username, password=password)
        assert response.status_code == 400 and "location" not in response.headers
        again = read_page(response.text)
        assert again.inputs["username"]["value"] == username and again.inputs["username"]["aria-invalid"] == "true"
        answers.append(again.alerts)
    assert answers[0] == answers[1] and "De gebruikersnaam of het wachtwoord is onjuist." in answers[0][0]
    # The form still works after a failure.
    page = read_page((await identity.http.get("/authorize", params=params)).text)
    assert "code" in redirect_params(await submit(identity.http, page))


async def test_the_form_needs_its_csrf_cookie_and_cannot_be_altered(identity):
    client = (await add_client(identity)).client
    await add_user(identity)
    _, challenge = pkce()
    page = read_page((await identity.http.get("/authorize", params=authorize_params(client.client_id, challenge))).text)
    data = {name: values.get("value", "") for name, values in page.inputs.items()}
    data |= {"username": "anna", "password": PASSWORD, "decision": "allow"}

    async with httpx.AsyncClient(transport=identity.http._transport, base_url=ISSUER) as cookieless:
        response = await cookieless.post("/authorize", data=data)
    assert response.status_code == 400 and "location" not in response.headers
    assert "verlopen" in read_page(response.text).alerts[0]

    body, _, mac = data["request"].partition(".")
    tampered = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).replace(b"xyz", b"abc")
    altered = {**data, "request": base64.urlsafe_b64encode(tampered).rstrip(b"=").decode() + "." + mac}
    response = await identity.http.post("/authorize", data=altered)
    assert response.status_code == 400 and "location" not in response.headers
    missing = {name: value for name, value in data.items() if name != "request"}
    assert (await identity.http.post("/authorize", data=missing)).status_code == 400
    # The untouched form still goes through.
    assert "code" in redirect_params(await identity.http.post("/authorize", data=data))


async def test_too_many_failed_sign_ins_answer_429_with_retry_after(start):
    identity = await start(login_failures_per_username="2/minute")
    client = (await add_client(identity)).client
    await add_user(identity)
    _, challenge = pkce()
    params = authorize_params(client.client_id, challenge, ui_locales="en")
    statuses = []
    for password in ("wrong one", "wrong two", "wrong three", PASSWORD):
        page = read_page((await identity.http.get("/authorize", params=params)).text)
        statuses.append(await submit(identity.http, page, password=password))
    assert [response.status_code for response in statuses] == [400, 400, 429, 429]
    blocked = statuses[-1]
    assert 1 <= int(blocked.headers["retry-after"]) <= 60
    alert = read_page(blocked.text).alerts[0]
    assert "Too many failed sign-in attempts" in alert and blocked.headers["retry-after"] in alert
    # Another user is not held up by anna's limit.
    await add_user(identity, username="bert")
    page = read_page((await identity.http.get("/authorize", params=params)).text)
    assert "code" in redirect_params(await submit(identity.http, page, username="bert"))


async def test_the_page_speaks_dutch_and_english_and_remembers_the_choice(identity):
    client = (await add_client(identity)).client
    _, challenge = pkce()
    params = authorize_params(client.client_id, challenge, scope="context:read permit:submit")
    english = read_page(
        (
            await identity.http.get(
                "/authorize", params=params, headers={"Accept-Language": "de, en-GB;q=0.8, nl;q=0.5"}
            )
        ).text
    )
    assert english.lang == "en" and english.title == "Sign in to City portal"
    assert (
        "Read the city's data (digital twin)" in english.text
        and "Submit building plans to the permit check" in english.text
    )
    dutch = read_page(
        (
            await identity.http.get(
                "/authorize", params=params | {"ui_locales": "nl-NL en"}, headers={"Accept-Language": "en"}
            )
        ).text
    )
    assert dutch.lang == "nl" and dutch.title == "Inloggen bij City portal"
    assert "Gegevens van de stad lezen (digitale tweeling)" in dutch.text

    switch = next(link for link in dutch.links if link.get("hreflang") == "en")
    switched = await identity.http.get(switch["href"])
    page = read_page(switched.text)
    assert page.lang == "en" and page.inputs["request"]["value"]
    # The switch keeps the request: the form it renders still completes the flow.
    await add_user(identity)
    assert redirect_params(await submit(identity.http, page))["state"] == "xyz"
    # Remembered: a request without ui_locales now renders in English despite Accept-Language.
    remembered = read_page(
        (await identity.http.get("/authorize", params=params, headers={"Accept-Language": "nl"})).text
    )
    assert remembered.lang == "en"


async def test_the_page_is_accessible_and_locked_down(identity):
    client = (await add_client(identity)).client
    _, challenge = pkce()
    response = await identity.http.get("/authorize", params=authorize_params(client.client_id, challenge))
    html = response.text
    page = read_page(html)
    assert page.inputs["username"]["autocomplete"] == "username"
    assert (
        page.inputs["password"]["autocomplete"] == "current-password" and page.inputs["password"]["type"] == "password"
    )
    assert '<label for="username">' in html and '<label for="password">' in html
    assert [button["value"] for button in page.buttons] == ["allow", "deny"]
    assert ":focus-visible" in html and "<script" not in html
    assert response.headers["x-frame-options"] == "DENY" and response.headers["cache-control"] == "no-store"
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src" not in policy and "default-src 'none'" in policy
    # The inline style sheet is the one the policy allows, by hash.
    style = html.split("<style>", 1)[1].split("</style>", 1)[0]
    assert f"'sha256-{base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()}'" in policy
    csrf = next(
        value
        for name, value in response.headers.multi_items()
        if name == "set-cookie" and "oup_authorize_csrf" in value
    )
    assert "HttpOnly" in csrf and "samesite=lax" in csrf.lower()


async def test_the_session_keeps_the_sign_in_instant_even_across_a_second_boundary(identity, monkeypatch):
    """The code's auth_time and the session's are one instant: a clock that ticks over a whole second
    between issuing the code and setting the cookie changes neither."""
    client = (await add_client(identity)).client
    await add_user(identity)
    jwks = KeySet.import_key_set((await identity.http.get("/jwks")).json())
    ticks = iter(range(10**6))
    start = int(time.time())
    monkeypatch.setattr(authorize.time, "time", lambda: start + 0.7 + 0.6 * next(ticks))

    auth_times = []
    for _ in range(2):
        verifier, challenge = pkce()
        params = authorize_params(client.client_id, challenge, scope="openid context:read")
        page = read_page((await identity.http.get("/authorize", params=params)).text)
        if "password" in page.inputs:
            answer = redirect_params(await submit(identity.http, page))
        else:
            data = {name: values.get("value", "") for name, values in page.inputs.items()} | {"decision": "allow"}
            answer = redirect_params(await identity.http.post(page.action, data=data))
        tokens = (await redeem(identity, client.client_id, answer["code"], verifier)).json()
        auth_times.append(jwt.decode(tokens["id_token"], jwks, algorithms=["ES256"]).claims["auth_time"])
    assert auth_times[0] == auth_times[1]


async def test_a_sign_in_session_spares_the_password_but_never_the_consent(identity):
    client = (await add_client(identity)).client
    user = await add_user(identity)
    jwks = KeySet.import_key_set((await identity.http.get("/jwks")).json())

    verifier, challenge = pkce()
    params = authorize_params(client.client_id, challenge, scope="openid context:read")
    page = read_page((await identity.http.get("/authorize", params=params)).text)
    signed_in = await submit(identity.http, page)
    session = next(
        value for name, value in signed_in.headers.multi_items() if name == "set-cookie" and "oup_session" in value
    )
    assert "HttpOnly" in session and "samesite=lax" in session.lower() and "Path=/authorize" in session
    first = (await redeem(identity, client.client_id, redirect_params(signed_in)["code"], verifier)).json()
    auth_time = jwt.decode(first["id_token"], jwks, algorithms=["ES256"]).claims["auth_time"]

    verifier, challenge = pkce()
    params = authorize_params(client.client_id, challenge, scope="openid context:read")
    page = read_page((await identity.http.get("/authorize", params=params)).text)
    assert "password" not in page.inputs and "username" not in page.inputs
    assert "Anna de Vries (anna)" in page.text
    data = {name: values.get("value", "") for name, values in page.inputs.items()} | {"decision": "allow"}
    answer = redirect_params(await identity.http.post(page.action, data=data))
    second = (await redeem(identity, client.client_id, answer["code"], verifier)).json()
    claims = jwt.decode(second["id_token"], jwks, algorithms=["ES256"]).claims
    assert (claims["sub"], claims["auth_time"]) == (user.user_id, auth_time)

    # prompt=none cannot be answered without the consent page.
    silent = await identity.http.get("/authorize", params=params | {"prompt": "none"})
    assert_refused(silent, "consent_required")
    # prompt=login, an elapsed max_age or an altered session cookie ask for the password again.
    for extra in ({"prompt": "login"}, {"max_age": "0"}):
        fresh = read_page((await identity.http.get("/authorize", params=params | extra)).text)
        assert "password" in fresh.inputs
    value = session.split(";")[0].split("=", 1)[1]
    for cookie, asks_password in ((value, False), (value[:-4] + "AAAA", True)):
        async with httpx.AsyncClient(
            transport=identity.http._transport, base_url=ISSUER, cookies={"oup_session": cookie}
        ) as browser:
            shown = read_page((await browser.get("/authorize", params=params)).text)
        assert ("password" in shown.inputs) is asks_password


async def test_sessions_can_be_switched_off(start):
    identity = await start(login_session_lifetime=0)
    client = (await add_client(identity)).client
    await add_user(identity)
    _, challenge = pkce()
    params = authorize_params(client.client_id, challenge)
    page = read_page((await identity.http.get("/authorize", params=params)).text)
    response = await submit(identity.http, page)
    assert "code" in redirect_params(response) and "oup_session" not in response.headers.get("set-cookie", "")
    assert "password" in read_page((await identity.http.get("/authorize", params=params)).text).inputs
