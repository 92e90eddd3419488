"""The page's sign-in over the real app and a real Postgres (no browser): the session
cookie, the CSRF checks, revocation, and no token in a page, a header or a log line.
(tests/browser drives the same page in Chromium.)"""

from __future__ import annotations

import io
import re
from contextlib import asynccontextmanager

import httpx

from gridjobs import logs, web
from gridjobs.access import tokens
from gridjobs.api.app import create_app
from gridjobs.runtime import open_runtime
from tests.secrets_scan import assert_no_secret
from tests import support
from tests.support import admin_headers

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@asynccontextmanager
async def page_client(db_url: str, base_url: str):
    async with open_runtime(support.test_settings(db_url), execute=False) as runtime:

        @asynccontextmanager
        async def given():
            yield runtime

        app = create_app(given, pages=web.routes())
        app.state.runtime = runtime
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as client:
            yield runtime, client


async def sign_in(client: httpx.AsyncClient, token: str) -> httpx.Response:
    form = await client.get("/signin")
    return await client.post("/signin", data={"csrf": CSRF.search(form.text)[1], "token": token})


async def test_signing_in_opens_a_session_that_follows_the_token(db_url):
    stream = io.StringIO()
    logs.configure(stream=stream, level="debug")
    texts: list[str] = []
    try:
        async with page_client(db_url, "https://gridjobs.test") as (runtime, client):
            token = (await admin_headers(runtime.pool, name="viewer", roles=["viewer"]))["Authorization"][7:]
            first = await client.get("/")
            assert first.status_code == 303 and first.headers["location"] == "/signin"
            bearer = await client.get("/", headers={"Authorization": f"Bearer {token}"})
            assert bearer.status_code == 303      # a page takes its identity from the session only

            wrong = await sign_in(client, token[:-1] + "x")
            assert wrong.status_code == 401 and token[:-1] not in wrong.text
            texts.append(wrong.text)
            signed = await sign_in(client, token)
            assert signed.status_code == 303 and signed.headers["location"] == "/"
            cookie = next(h for h in signed.headers.get_list("set-cookie") if h.startswith("gridjobs_session="))
            assert {"HttpOnly", "SameSite=strict", "Secure", "Path=/"} <= {p.strip() for p in cookie.split(";")}
            home = await client.get("/")
            assert home.status_code == 200 and "viewer" in home.text
            assert "default-src 'self'" in home.headers["content-security-policy"]
            texts += [home.text, cookie, str(home.headers)]

            csrf = CSRF.search(home.text)[1]
            forged = await client.post("/signout", data={"csrf": "x" * len(csrf)})
            assert forged.status_code == 403 and forged.json()["type"] == "/problems/forbidden"
            no_form = await client.post("/signin", data={"csrf": "made-up", "token": token})
            assert no_form.status_code == 403      # the sign-in form's own CSRF cookie must match

            assert (await client.delete("/v1/tokens/viewer", headers=await admin_headers(runtime.pool))
                    ).status_code == 204
            revoked = await client.get("/")
            assert revoked.status_code == 303 and revoked.headers["location"] == "/signin"
            assert len(client._transport.app.state.sessions) == 0    # the session went with the token
    finally:
        logs.configure()
    texts.append(stream.getvalue())
    assert_no_secret(texts, [token.encode(), tokens.parse(token)[1].encode()])


async def test_over_plain_http_the_cookie_is_not_secure_and_signing_out_ends_the_session(db_url):
    async with page_client(db_url, "http://gridjobs.test") as (runtime, client):
        token = (await admin_headers(runtime.pool, roles=["operator"]))["Authorization"][7:]
        signed = await sign_in(client, token)
        cookie = next(h for h in signed.headers.get_list("set-cookie") if h.startswith("gridjobs_session="))
        assert "Secure" not in cookie and "HttpOnly" in cookie
        home = await client.get("/")
        out = await client.post("/signout", data={"csrf": CSRF.search(home.text)[1]})
        assert out.status_code == 303 and len(runtime_sessions(client)) == 0
        assert (await client.get("/")).status_code == 303


def runtime_sessions(client: httpx.AsyncClient):
    return client._transport.app.state.sessions
