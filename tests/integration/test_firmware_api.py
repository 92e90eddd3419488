"""Firmware artifacts over real HTTP handling and a real Postgres.

Uploads stream into 64 KiB rows in one transaction: the same image again is
the same artifact, every refused upload is problem+json and leaves no row.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid

import httpx
import pytest

from gridjobs.api.app import create_app
from gridjobs.api.body_limit import BodyLimit
from gridjobs.errors import ValidationFailed
from gridjobs.store.firmware_rows import STORAGE_CHUNK_BYTES
from gridjobs.firmware.artifacts import (
    RangeNotSatisfiable, firmware_for_rollout, read_range,
)
from tests.support import admin_headers, running_service

FIRMWARE_PROFILE = """
name = "fw_rtu"
description = "An RTU that takes firmware over Modbus (test profile)"

[[points]]
name = "firmware_version"
address = 0
type = "uint16"
writable = false

[[points]]
name = "fw_state"
address = 1
type = "uint16"
writable = false

[[points]]
name = "fw_active_bank"
address = 2
type = "uint16"
writable = false

[[points]]
name = "fw_staged_bytes"
address = 3
type = "uint16"
writable = false

[[points]]
name = "fw_staged_crc"
address = 4
type = "uint16"
writable = false

[[points]]
name = "fw_image_size"
address = 5
type = "uint16"
writable = true

[[points]]
name = "fw_image_version"
address = 6
type = "uint16"
writable = true

[[points]]
name = "fw_chunk_offset"
address = 7
type = "uint16"
writable = true

[[points]]
name = "fw_chunk_len"
address = 8
type = "uint16"
writable = true

[[points]]
name = "fw_chunk_data"
address = 9
type = "uint16"
writable = true

[[points]]
name = "fw_activate"
address = 10
type = "uint16"
writable = true

[[points]]
name = "fw_confirm"
address = 11
type = "uint16"
writable = true
"""
OCTETS = {"content-type": "application/octet-stream"}
SMALL_LIMIT = 256 * 1024


@pytest.fixture
def profiles_dir(tmp_path):
    (tmp_path / "fw_rtu.toml").write_text(FIRMWARE_PROFILE)
    return tmp_path


@pytest.fixture
async def service(db_url, profiles_dir):
    async with running_service(db_url, execute=False, profiles_dir=profiles_dir,
                               firmware_max_bytes=SMALL_LIMIT) as pair:
        yield pair


def _upload(client, body, *, version="4.2.1", profile="fw_rtu", headers=OCTETS):
    params = {k: v for k, v in {"version": version, "profile": profile}.items() if v is not None}
    return client.post("/v1/firmware", params=params, content=body, headers=headers)


async def _rows(runtime) -> tuple[int, int]:
    return (await runtime.pool.fetchval("SELECT count(*) FROM firmware_artifacts"),
            await runtime.pool.fetchval("SELECT count(*) FROM firmware_chunks"))


def _assert_problem(response, status: int, *needles: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"] and body["detail"]
    for needle in needles:
        assert needle in json.dumps(body), (needle, body)
    return body


async def test_upload_is_201_then_the_same_image_is_200(service):
    runtime, client = service
    image = os.urandom(100_000)
    first = await _upload(client, image)
    assert first.status_code == 201, first.text
    art = first.json()
    assert art["sha256"] == hashlib.sha256(image).hexdigest() and art["size"] == len(image)
    assert (art["version"], art["profile"]) == ("4.2.1", "fw_rtu")
    assert first.headers["Location"] == first.headers["Content-Location"] == f"/v1/firmware/{art['id']}"
    again = await _upload(client, image)
    assert again.status_code == 200 and again.json() == art
    assert again.headers["Location"] == f"/v1/firmware/{art['id']}"
    assert await _rows(runtime) == (1, 2)
    assert (await client.get(f"/v1/firmware/{art['id']}")).json() == art


async def test_three_mib_image_is_48_rows_read_back_at_odd_offsets(db_url, profiles_dir):
    image = os.urandom(3 * 1024 * 1024)

    async def pieces():  # uneven pieces, no Content-Length
        for start in range(0, len(image), 50_001):
            yield image[start:start + 50_001]

    async with running_service(db_url, execute=False, profiles_dir=profiles_dir) as (runtime, client):
        r = await _upload(client, pieces())
        assert r.status_code == 201, r.text
        art_id = uuid.UUID(r.json()["id"])
        sizes = await runtime.pool.fetch(
            "SELECT idx, octet_length(data) AS n FROM firmware_chunks WHERE artifact_id = $1 ORDER BY idx",
            art_id)
        assert [s["idx"] for s in sizes] == list(range(48))
        assert {s["n"] for s in sizes} == {STORAGE_CHUNK_BYTES}
        for offset, length in [(0, 1), (1, 65_535), (65_535, 2), (131_071, 200_003),
                               (3_000_001, 145_727), (len(image) - 1, 1), (12_345, 0)]:
            assert await read_range(runtime.pool, art_id, offset, length) == image[offset:offset + length]
        assert await read_range(runtime.pool, art_id, 0, len(image)) == image
        for offset, length in [(-1, 2), (len(image), 1), (len(image) - 5, 6)]:
            with pytest.raises(RangeNotSatisfiable):
                await read_range(runtime.pool, art_id, offset, length)


async def test_a_short_last_row(service):
    runtime, client = service
    image = os.urandom(STORAGE_CHUNK_BYTES + 7)
    art_id = uuid.UUID((await _upload(client, image)).json()["id"])
    assert await _rows(runtime) == (1, 2)
    assert await read_range(runtime.pool, art_id, STORAGE_CHUNK_BYTES - 3, 10) == image[-10:]


BAD_UPLOADS = [
    (dict(body=b""), 422, ["empty", "body"]),
    (dict(body=b"x" * (SMALL_LIMIT + 1)), 413, ["limit"]),
    (dict(body=b"img", version=None), 422, ["version"]),
    (dict(body=b"img", version=""), 422, ["version"]),
    (dict(body=b"img", version="-1.0"), 422, ["version"]),
    (dict(body=b"img", version="1.0 beta"), 422, ["version"]),
    (dict(body=b"img", version="v" * 65), 422, ["version"]),
    (dict(body=b"img", profile=None), 422, ["profile"]),
    (dict(body=b"img", profile="toaster"), 422, ["profile", "unknown device profile 'toaster'"]),
    (dict(body=b"img", profile="controllable_load"), 422,
     ["profile", "does not support firmware", "fw_activate"]),
    (dict(body=b"img", headers={"content-type": "application/json"}), 415, ["application/octet-stream"]),
    (dict(body=b"img", headers={}), 415, ["application/octet-stream"]),
]


@pytest.mark.parametrize("case,status,needles", BAD_UPLOADS)
async def test_bad_uploads_are_problems_and_write_nothing(service, case, status, needles):
    runtime, client = service
    case = dict(case)
    _assert_problem(await _upload(client, case.pop("body"), **case), status, *needles)
    assert await _rows(runtime) == (0, 0)


async def test_streamed_body_over_the_limit_is_413_and_rolled_back(service):
    runtime, client = service

    async def pieces():  # chunked: no Content-Length, crosses the limit after rows were written
        for _ in range(SMALL_LIMIT // 10_000 + 5):
            yield os.urandom(10_000)
    _assert_problem(await _upload(client, pieces()), 413, "limit")
    assert await _rows(runtime) == (0, 0)


async def test_app_level_firmware_limit_refuses_declared_and_streamed_bodies(service):
    runtime, _ = service
    app = create_app(None, firmware_max_bytes=100_000)  # no lifespan: the runtime is given
    app.state.runtime = runtime
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                 headers=await admin_headers(runtime.pool)) as client:
        _assert_problem(await _upload(client, b"x" * 100_001), 413, "100000")

        async def pieces():  # BodyLimit raises mid-stream, inside the upload's transaction
            for _ in range(30):
                yield os.urandom(5_000)
        _assert_problem(await _upload(client, pieces()), 413, "100000")
        assert await _rows(runtime) == (0, 0)
        assert (await _upload(client, b"x" * 100_000)).status_code == 201


def test_body_limit_picks_the_longest_matching_prefix():
    limit = BodyLimit(None, max_bytes=10, prefix_limits={"/v1/firmware": 20, "/v1/firmware/big": 30})
    assert [limit.limit_for(p) for p in ("/v1/firmware", "/v1/firmware/x", "/v1/firmware/big/1",
                                         "/v1/firmwarez", "/v1/devices")] == [20, 20, 30, 10, 10]


async def test_firmware_limit_is_separate_from_the_json_limit(db_url, profiles_dir):
    image = os.urandom(1024 * 1024 + 1)  # over the 1 MiB JSON limit, under the firmware one
    async with running_service(db_url, execute=False, profiles_dir=profiles_dir) as (runtime, client):
        assert (await _upload(client, image)).status_code == 201
        _assert_problem(await client.post("/v1/devices", content=image,
                                          headers={"content-type": "application/json"}), 413)
        assert await _rows(runtime) == (1, 17)


async def test_version_and_bytes_must_agree_within_a_profile(service, profiles_dir):
    runtime, client = service
    image = os.urandom(1000)
    art = (await _upload(client, image)).json()
    body = _assert_problem(await _upload(client, image, version="4.2.2"), 409, "4.2.1", art["id"])
    assert body["existing"] == f"/v1/firmware/{art['id']}"
    _assert_problem(await _upload(client, os.urandom(1000)), 409, "different image", art["id"])
    assert await _rows(runtime) == (1, 1)
    (profiles_dir / "fw_rtu2.toml").write_text(FIRMWARE_PROFILE.replace('"fw_rtu"', '"fw_rtu2"'))
    other = await _upload(client, image, profile="fw_rtu2")
    assert other.status_code == 201 and other.json()["id"] != art["id"]
    assert await _rows(runtime) == (2, 2)


async def test_list_newest_first_with_cursor_and_profile_filter(service, profiles_dir):
    runtime, client = service
    (profiles_dir / "fw_rtu2.toml").write_text(FIRMWARE_PROFILE.replace('"fw_rtu"', '"fw_rtu2"'))
    ids = []
    for i in range(5):
        r = await _upload(client, os.urandom(10 + i), version=f"1.{i}",
                          profile="fw_rtu" if i % 2 == 0 else "fw_rtu2")
        ids.append(r.json()["id"])
    seen, cursor = [], None
    while True:
        page = await client.get("/v1/firmware", params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200
        seen += [a["id"] for a in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    only = (await client.get("/v1/firmware", params={"profile": "fw_rtu2"})).json()
    assert [a["id"] for a in only["items"]] == [ids[3], ids[1]] and only["next_cursor"] is None
    _assert_problem(await client.get("/v1/firmware", params={"cursor": "garbage"}), 422, "cursor")
    _assert_problem(await client.get("/v1/firmware", params={"limit": 0}), 422, "limit")


async def test_get_unknown_or_malformed_id_is_404(service):
    _, client = service
    _assert_problem(await client.get(f"/v1/firmware/{uuid.uuid4()}"), 404, "does not exist")
    _assert_problem(await client.get("/v1/firmware/not-a-uuid"), 404, "not-a-uuid")


async def test_openapi_documents_the_firmware_routes(service):
    _, client = service
    spec = (await client.get("/openapi.json")).json()
    post = spec["paths"]["/v1/firmware"]["post"]
    assert set(post["responses"]) >= {"200", "201", "409", "413", "415", "422"}
    assert "application/octet-stream" in post["requestBody"]["content"]
    assert "FirmwareOut" in spec["components"]["schemas"]


async def test_firmware_for_rollout_refuses_an_unknown_artifact(service):
    runtime, client = service
    art = (await _upload(client, b"image")).json()
    found = await firmware_for_rollout(runtime.pool, uuid.UUID(art["id"]))
    assert (str(found.id), found.size, found.profile) == (art["id"], 5, "fw_rtu")
    with pytest.raises(ValidationFailed) as refused:
        await firmware_for_rollout(runtime.pool, uuid.uuid4())
    assert refused.value.extra["errors"][0]["field"] == "params.firmware_id"
