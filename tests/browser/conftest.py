"""The browser tests' shared parts: one running gridjobs (real Postgres, real local Ray,
a simulated fleet on loopback Modbus/TCP) and one headless Chromium for the module.

Chromium is Debian's (`apt-get install chromium`), driven by Playwright with
`executable_path`. Without it the tests fail: CI installs it (.ci/run), so a
missing browser is a broken setup, not a reason to skip.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import AsyncIterator

import httpx
import pytest

from gridjobs.store.database import create_pool
from simulators import Fleet
from tests.conftest import database_from_template
from tests.support import admin_headers, live_service, serving

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


class Service:
    def __init__(self, base: str, admin: dict[str, str], tokens: dict[str, str], fleet: Fleet) -> None:
        self.base, self.admin, self.tokens, self.fleet = base, admin, tokens, fleet

    def api(self, role: str = "admin") -> httpx.AsyncClient:
        headers = self.admin if role == "admin" else {"Authorization": f"Bearer {self.tokens[role]}"}
        return httpx.AsyncClient(base_url=self.base, headers=headers, timeout=30)


@pytest.fixture(scope="module")
async def browser_db(admin_url, template_url) -> AsyncIterator[str]:
    async with database_from_template(admin_url, prefix="gridjobs_b_") as url:
        yield url


@pytest.fixture(scope="module")
async def service(browser_db, ray_local) -> AsyncIterator[Service]:
    fleet = Fleet.build(devices=12, gateways=2, host="127.0.0.1", port=0, seed=7, feeders=2)
    async with serving(fleet), live_service(browser_db, execute=True, events_poll_s=0.1) as (base, admin):
        pool = await create_pool(browser_db, min_size=1, max_size=1)
        try:
            tokens = {role: (await admin_headers(pool, name=f"{role}-{uuid.uuid4().hex[:6]}", roles=[role])
                             )["Authorization"].removeprefix("Bearer ")
                      for role in ("operator", "viewer")}
        finally:
            await pool.close()
        async with httpx.AsyncClient(base_url=base, headers=admin, timeout=30) as http:
            assert (await http.post("/v1/devices", json=fleet.inventory())).status_code == 200
        yield Service(base, admin, tokens, fleet)


@pytest.fixture(scope="module")
async def chromium():
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.fail(f"{CHROMIUM} is missing: run `apt-get install -y chromium` (.ci/run does)", pytrace=False)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                                   args=["--no-sandbox"])
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
