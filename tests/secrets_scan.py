"""assert_no_secret: no secret appears in captured text, raw or encoded.

Looks for each secret as raw bytes (latin-1 and UTF-8 views), its Python bytes
repr, hex (either case) and base64 (standard and URL-safe, at any alignment
inside a longer encoded blob).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

MIN_SECRET_BYTES = 8  # shorter secrets would match by chance


def _base64_cores(secret: bytes) -> set[str]:
    """The base64 characters that depend only on the secret, for each of the 3 alignments."""
    cores = set()
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + secret).decode()
        start = (8 * pad + 5) // 6            # first character made of secret bits only
        end = (8 * (pad + len(secret))) // 6  # past the last such character
        core = encoded[start:end]
        cores.update({core, core.replace("+", "-").replace("/", "_")})
    cores.add(base64.b64encode(secret).decode().rstrip("="))
    cores.add(base64.urlsafe_b64encode(secret).decode().rstrip("="))
    return {c for c in cores if len(c) >= MIN_SECRET_BYTES}


def secret_forms(secret: bytes) -> set[str]:
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"scan needs secrets of at least {MIN_SECRET_BYTES} bytes")
    forms = {secret.decode("latin-1"), secret.hex(), secret.hex().upper(), repr(secret)[2:-1]}
    try:
        forms.add(secret.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    return forms | _base64_cores(secret)


def assert_no_secret(texts: Iterable[str | bytes], secrets: Iterable[bytes]) -> None:
    haystacks = [t.decode("latin-1") if isinstance(t, bytes) else str(t) for t in texts]
    for secret in secrets:
        for form in secret_forms(secret):
            for i, text in enumerate(haystacks):
                assert form not in text, f"a secret leaked into captured text #{i}"
