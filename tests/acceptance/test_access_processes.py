"""Access control across `gridjobs serve` processes, and over TLS.

- A revoke made through one process is enforced by another on the same database
  from its next request (a NOTIFY drops the token from every process's cache).
- HTTPS with a certificate generated here; a public plaintext bind is refused;
  the TLS key must be private.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import subprocess
import sys

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.acceptance.server import ServerProcess
from tests.support import wait_until

GRIDJOBS = [sys.executable, "-m", "gridjobs"]
REVOKE_HEARD_S = 10.0   # bounds the NOTIFY's way to the other process, on a loaded machine


@pytest.fixture
async def two_servers(db_url, tmp_path):
    first = ServerProcess(db_url, tmp_path / "first.log", GRIDJOBS_TOKEN_CACHE_S="300")
    second = ServerProcess(db_url, tmp_path / "second.log", GRIDJOBS_TOKEN_CACHE_S="300")
    try:
        await first.start()
        await second.start()
        yield first, second
    finally:
        first.stop()
        second.stop()


async def test_a_revoke_through_one_process_is_enforced_by_the_other(two_servers):
    first, second = two_servers
    async with httpx.AsyncClient(base_url=first.url, headers=first.headers, timeout=10) as admin:
        created = await admin.post("/v1/tokens", json={"name": "scada", "roles": ["viewer"], "all_feeders": True})
        assert created.status_code == 201
        scada = {"Authorization": f"Bearer {created.json()['token']}"}
        async with httpx.AsyncClient(base_url=second.url, headers=scada, timeout=10) as other:
            assert (await other.get("/v1/operations")).status_code == 200  # now cached there (300 s)
            assert (await admin.delete("/v1/tokens/scada")).status_code == 204

            async def refused() -> bool:   # the other process hears of it by NOTIFY: within moments
                answer = await other.get("/v1/operations")
                return answer.status_code == 401 and "revoked" in answer.json()["detail"]
            await wait_until(refused, timeout_s=REVOKE_HEARD_S, interval_s=0.05)
        listed = (await admin.get("/v1/tokens")).json()["items"]
        assert next(t for t in listed if t["name"] == "scada")["revoked_at"] is not None


def _certificates(tmp_path):
    """A CA, and a server certificate for 127.0.0.1 it signed."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gridjobs test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key")}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    os.chmod(paths["key"], 0o600)
    return paths


async def test_https_round_trip_with_a_generated_certificate(db_url, tmp_path):
    paths = _certificates(tmp_path)
    server = ServerProcess(db_url, tmp_path / "server.log", scheme="https",
                           extra_args=["--tls-cert", str(paths["cert"]), "--tls-key", str(paths["key"])],
                           ca_file=paths["ca"])
    try:
        await server.start()
        assert server.url.startswith("https://")
        status = subprocess.run([*GRIDJOBS, "status", "00000000-0000-4000-8000-000000000000",
                                 "--url", server.url, "--token-file", str(server.token_file),
                                 "--ca-file", str(paths["ca"])], capture_output=True, text=True, timeout=60)
        assert status.returncode == 2 and "does not exist" in status.stderr  # a 404, over TLS
        untrusted = subprocess.run([*GRIDJOBS, "status", "00000000-0000-4000-8000-000000000000",
                                    "--url", server.url, "--token-file", str(server.token_file)],
                                   capture_output=True, text=True, timeout=60)
        assert untrusted.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
    finally:
        server.stop()


def test_a_public_plaintext_bind_and_a_readable_key_are_refused(tmp_path):
    public = subprocess.run([*GRIDJOBS, "serve", "--host", "0.0.0.0", "--port", "1"],
                            capture_output=True, text=True, timeout=60)
    assert public.returncode == 2 and "--allow-plaintext" in public.stderr
    assert "Traceback" not in public.stderr
    paths = _certificates(tmp_path)
    os.chmod(paths["key"], 0o644)
    loose = subprocess.run([*GRIDJOBS, "serve", "--tls-cert", str(paths["cert"]), "--tls-key", str(paths["key"]),
                            "--port", "1"], capture_output=True, text=True, timeout=60)
    assert loose.returncode == 2 and "chmod 600" in loose.stderr
