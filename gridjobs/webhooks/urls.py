"""Which URLs an endpoint may have: https, or plain http to loopback or an
allow-listed host. A pure check; the sender never follows redirects either.

An endpoint URL is a place gridjobs will POST to, so it must not be a way to
reach what the service itself can reach: no credentials in it, no cloud
metadata (link-local) address unless allow-listed, no fragment.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from gridjobs.errors import ValidationFailed, quoted

MAX_URL_LENGTH = 2048
LOOPBACK_NAMES = frozenset({"localhost"})


def _refuse(url: str, why: str) -> ValidationFailed:
    return ValidationFailed(f"webhook url {quoted(url)}: {why}",
                            extra={"errors": [{"field": "url", "message": why}]})


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    address = _address(host)
    return host.lower() in LOOPBACK_NAMES if address is None else address.is_loopback


def allowed(host: str, allow_hosts: frozenset[str]) -> bool:
    return host.lower() in allow_hosts


def check_url(url: str, *, allow_hosts: frozenset[str] = frozenset()) -> str:
    """`url` if an endpoint may have it; ValidationFailed (422) naming why not."""
    if len(url) > MAX_URL_LENGTH:
        raise _refuse(url, f"at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port   # noqa: B018  (raises on a bad port)
    except ValueError:
        raise _refuse(url, "not a URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise _refuse(url, "must be an absolute https:// URL")
    if parts.username is not None or parts.password is not None:
        raise _refuse(url, "must not carry credentials")
    if parts.fragment:
        raise _refuse(url, "must not have a fragment")
    listed = allowed(host, allow_hosts)
    if parts.scheme == "http" and not (is_loopback(host) or listed):
        raise _refuse(url, "must be https:// (plain http only to loopback or an allow-listed host)")
    address = _address(host)
    if address is not None and address.is_link_local and not listed:
        raise _refuse(url, "link-local addresses are not allowed")
    return url


def parse_allow_hosts(text: str) -> frozenset[str]:
    """GRIDJOBS_WEBHOOK_ALLOW_HOSTS: comma-separated host names or addresses."""
    return frozenset(h.strip().lower() for h in text.split(",") if h.strip())
