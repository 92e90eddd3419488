"""The control-room page in a real headless Chromium, against a running gridjobs with a
simulated fleet: sign in, follow a shed live over one SSE stream, cancel it, see the
devices restored; a viewer gets no Cancel and a forged POST is refused; /docs renders
with nothing fetched from anywhere but the server."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import urlsplit

from playwright.async_api import expect

from tests.support import outcomes, wait_for_status

ASSETS = {"document", "stylesheet", "script", "image", "font"}
WAIT_MS = 30_000


def shed(service, *, hold_s: float | None) -> dict:
    kw = sum(d.measured_kw() for d in service.fleet.devices if not d.spec.protected)
    return {"kind": "load_shed", "params": {
        "target_kw": round(kw * 0.4, 1), "scope": {"feeders": ["F1", "F2"]}, "hold_s": hold_s,
        "restore": {"stages": 2, "stage_delay_s": 0.2}, "revert_timeout_s": 30, "verify_settle_s": 2.0}}


async def sign_in(browser, service, role: str):
    context = await browser.new_context()
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    await page.goto(service.base + "/")
    assert urlsplit(page.url).path == "/signin"          # not signed in: sent to the sign-in page
    await page.fill("#token", service.tokens[role])
    await page.click("form[action='/signin'] button")
    await page.wait_for_url(service.base + "/")
    return context, page


async def test_an_operator_follows_a_shed_live_and_cancels_it(chromium, service, artifacts):
    context, page = await sign_in(chromium, service, "operator")
    try:
        cookie = next(c for c in await context.cookies() if c["name"] == "gridjobs_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert service.tokens["operator"] not in cookie["value"]
        assert service.tokens["operator"] not in await page.content()

        await page.evaluate("window.stayed = true")   # gone if the page reloads
        async with service.api("operator") as api:
            op_id = (await api.post("/v1/operations", json=shed(service, hold_s=600.0))).json()["id"]
        row = page.locator(f'tr[data-op="{op_id}"]')   # the list learns of it from /live
        await row.locator(".status").wait_for()
        assert await page.evaluate("window.stayed") is True

        requests: list = []
        page.on("request", lambda r: requests.append(r))
        await page.goto(f"{service.base}/operations/{op_id}", wait_until="load")
        await page.evaluate("window.stayed = true")
        # (The page's CSP allows no eval, so the waits are locators, not wait_for_function.)
        await expect(page.locator("#phase")).to_have_text(re.compile(r"^hold, \d+:\d\d left$"), timeout=WAIT_MS)
        await expect(page.locator("#devices tr td:nth-child(3)", has_text="curtailed").first).to_be_visible()
        achieved = float(await page.text_content("#kw-achieved"))
        assert achieved > 0
        countdown = await page.text_content("#phase")
        await expect(page.locator("#phase")).not_to_have_text(countdown, timeout=WAIT_MS)   # counts down locally
        await page.screenshot(path=str(artifacts / "operation-view-hold.png"), full_page=True)

        followed = [r for r in requests if r.resource_type not in ASSETS]
        assert [(r.method, urlsplit(r.url).path) for r in followed] == \
            [("GET", f"/operations/{op_id}/live")], "the page polls or opens more than one stream"
        assert followed[0].resource_type == "eventsource"

        await page.click("#cancel")
        await expect(page.locator("#status")).to_have_text("cancelled", timeout=WAIT_MS)
        steps = await page.eval_on_selector_all("#devices tr", "rows => rows.map(r => r.cells[2].textContent)")
        assert "restored" in steps and "curtailed" not in steps
        assert await page.evaluate("window.stayed") is True   # all of it live, without a reload
        assert await page.is_hidden("#actions")
        await page.screenshot(path=str(artifacts / "operation-view-cancelled.png"), full_page=True)
        after_load = [r for r in requests if r.resource_type not in ASSETS]
        assert [(r.method, urlsplit(r.url).path) for r in after_load] == [
            ("GET", f"/operations/{op_id}/live"), ("POST", f"/operations/{op_id}/cancel")]

        async with service.api() as api:
            op = await wait_for_status(api, op_id)
            devices = await outcomes(api, op_id)
        assert op["status"] == "cancelled" and op["cancelled_by"].startswith("operator-")
        shed_ids = {d for d, o in devices.items() if o["step"] in ("restored", "restore")}
        assert shed_ids and all(devices[d]["step"] == "restored" for d in shed_ids)

        feeder = next(d["feeder"] for d in service.fleet.inventory() if d["id"] in shed_ids)
        await page.goto(f"{service.base}/feeders/{feeder}?operation={op_id}")
        steps_drawn = await page.get_attribute("svg.chart path.series", "d")
        assert len(set(re.findall(r"V([\d.]+)", steps_drawn))) >= 2   # the feeder's kW went down and back
        await page.screenshot(path=str(artifacts / "feeder-view.png"), full_page=True)
        await page.goto(f"{service.base}/devices/{sorted(shed_ids)[0]}")
        assert await page.locator(f'a[href="/operations/{op_id}"]').count() == 1
    finally:
        await context.close()


async def test_a_viewer_sees_no_cancel_and_a_forged_post_is_refused(chromium, service, artifacts):
    async with service.api("operator") as api:
        op_id = (await api.post("/v1/operations", json=shed(service, hold_s=None))).json()["id"]
    operator, operator_page = await sign_in(chromium, service, "operator")
    viewer, page = await sign_in(chromium, service, "viewer")
    try:
        await operator_page.goto(f"{service.base}/operations/{op_id}")
        assert await operator_page.locator("#cancel").count() == 1    # the same view offers it to an operator
        await page.goto(f"{service.base}/operations/{op_id}")
        await expect(page.locator("#status")).to_have_text("running", timeout=WAIT_MS)
        assert await page.locator("#cancel").count() == 0
        await page.screenshot(path=str(artifacts / "operation-view-viewer.png"), full_page=True)

        csrf = await page.get_attribute("form[action='/signout'] input[name=csrf]", "value")
        forged = await page.request.post(f"{service.base}/operations/{op_id}/cancel", form={"csrf": csrf},
                                         max_redirects=0)
        assert forged.status == 403
        problem = await forged.json()
        assert problem["type"] == "/problems/forbidden" and "operator" in problem["detail"]
        no_token = await operator_page.request.post(f"{service.base}/operations/{op_id}/cancel",
                                                    form={"csrf": "not-the-session-token"}, max_redirects=0)
        assert no_token.status == 403 and "CSRF" in (await no_token.json())["detail"]
        async with service.api() as api:
            assert (await api.get(f"/v1/operations/{op_id}")).json()["status"] == "running"
            assert (await api.post(f"/v1/operations/{op_id}/cancel")).status_code == 202
            assert (await wait_for_status(api, op_id))["status"] == "cancelled"
    finally:
        await viewer.close()
        await operator.close()


async def test_docs_and_problem_pages_render_offline(chromium, service, artifacts):
    context, page = await sign_in(chromium, service, "viewer")
    try:
        requests: list = []
        page.on("request", lambda r: requests.append(r))
        await page.goto(f"{service.base}/docs")
        await page.locator(".swagger-ui .info .title").filter(has_text="gridjobs").wait_for()
        assert await page.locator(".swagger-ui .opblock").count() >= 20
        await page.screenshot(path=str(artifacts / "docs.png"))
        async with service.api() as api:
            problem = (await api.get("/v1/operations/not-an-id")).json()
        await page.goto(service.base + problem["type"])
        assert (await page.text_content("#problem-title")).startswith("Not found")
        hosts = {urlsplit(r.url).netloc for r in requests if not r.url.startswith("data:")}
        assert hosts == {urlsplit(service.base).netloc}, f"requests left the server: {hosts}"
    finally:
        await context.close()
    await asyncio.sleep(0)
