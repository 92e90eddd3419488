"""Settings, read once at the entry point: GRIDJOBS_* variables, then CLI flags.

Nothing below the entry point reads the environment; it gets a Settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Mapping

# The shards' own defaults live with them, in the lower layer.
from actors.pool import SHARD_WAIT_S
from actors.shard import DEVICE_DEADLINE_S, MAX_INFLIGHT_PER_GATEWAY, REQUEST_TIMEOUT_S
from gridjobs.errors import ConfigError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
LEASE_S = 15.0                # operation lease; heartbeat every third of it
POLL_S = 2.0                  # dispatcher poll interval (LISTEN/NOTIFY wakes it sooner)
DRAIN_S = 15.0                # SIGTERM/SIGINT to exit, at most; docs/gridjobs.service allows more
MAX_RUNNING = 8               # operations one process runs at once
MAX_BODY_BYTES = 1024 * 1024  # JSON request bodies
FIRMWARE_MAX_BYTES = 16 * 1024 * 1024  # POST /v1/firmware images
LOG_LEVEL = "info"
# Overload (README "Overload"): admission by lane, and the in-flight bound.
BULK_QUEUE_MAX = 10_000       # queued bulk operations (rollouts, rotations, routine sheds)
GRID_QUEUE_MAX = 100_000      # queued emergency sheds and curtailments
EMERGENCY_PRIORITY = 50       # a shed or DER curtailment at or above it is in the grid lane
MAX_INFLIGHT = 256            # HTTP requests in flight, beyond which 503 at once
GRID_INFLIGHT_RESERVE = 32    # extra in-flight slots only a grid-lane submission may keep
QUEUE_REFRESH_S = 0.5         # how often the queue depth per lane is read from Postgres
DRAIN_WINDOW_S = 30.0         # the window over which the drain rate (claims/s) is measured
# Access control (README "Access control").
TOKEN_CACHE_S = 5.0           # a verified token is trusted this long; a revoke NOTIFY ends it sooner
RATE_LIMITS = ("viewer=20/100,operator=20/100,engineer=20/100,installer=100/1000,"
               "secadm=10/50,secaud=10/50")  # role=requests per second/burst, per principal, per process
JWT_ROLES_CLAIM = "roles"
JWT_FEEDERS_CLAIM = "feeders"
# Events, webhooks and streams (README "Events and webhooks").
WEBHOOK_TIMEOUT_S = 15.0      # one delivery request, at most; only 2xx counts
WEBHOOK_RETRY_FACTOR = 1.0    # scales the retry schedule (immediately, 5 s, 5 min, ... 10 h); tests shrink it
WEBHOOK_CONCURRENCY = 32      # deliveries one process sends at once (0: this process sends none)
WEBHOOK_PER_ENDPOINT = 4      # of which to one endpoint, so a slow receiver holds back no other
WEBHOOK_DISABLE_AFTER_S = 5 * 24 * 3600.0   # an endpoint failing this long in a row is disabled
WEBHOOK_ALLOW_HOSTS = ""      # hosts (besides loopback) an endpoint may reach over plain http
EVENTS_POLL_S = 1.0           # relay, deliveries and streams look for work this often (NOTIFY wakes them sooner)
EVENT_RETENTION_S = 7 * 24 * 3600.0   # delivered events and delivery logs are kept this long
MAX_STREAMS = 256             # open event streams per process, beside (not within) max_inflight
STREAM_BUFFER = 1000          # events one stream may have waiting; past it the stream is closed
STREAM_HEARTBEAT_S = 15.0     # a comment line this often keeps proxies from closing idle streams
STREAM_SEND_TIMEOUT_S = 30.0  # a stream whose client takes no bytes this long is closed


def default_data_dir() -> Path:
    """$XDG_DATA_HOME/gridjobs, or ~/.local/share/gridjobs."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "gridjobs"


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None     # None: start the embedded PostgreSQL
    data_dir: Path = default_data_dir()
    ray_address: str | None = None      # None: start a local Ray
    shards: int = max(1, os.cpu_count() or 1)
    shard_wait_s: float = SHARD_WAIT_S   # on a cluster: a shard silent this long is unavailable
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    lease_s: float = LEASE_S
    poll_s: float = POLL_S
    max_running: int = MAX_RUNNING
    drain_s: float = DRAIN_S
    request_timeout_s: float = REQUEST_TIMEOUT_S
    device_deadline_s: float = DEVICE_DEADLINE_S
    max_inflight_per_gateway: int = MAX_INFLIGHT_PER_GATEWAY
    max_body_bytes: int = MAX_BODY_BYTES
    firmware_max_bytes: int = FIRMWARE_MAX_BYTES   # POST /v1/firmware bodies
    log_json: bool | None = None        # None: JSON unless stderr is a TTY
    log_level: str = LOG_LEVEL
    profiles_dir: Path | None = None    # user device profiles, beside the shipped ones
    master_key_file: Path | None = None  # None: <data_dir>/master.key with the embedded database
    bulk_queue_max: int = BULK_QUEUE_MAX
    grid_queue_max: int = GRID_QUEUE_MAX
    emergency_priority: int = EMERGENCY_PRIORITY
    max_inflight: int = MAX_INFLIGHT
    grid_inflight_reserve: int = GRID_INFLIGHT_RESERVE
    queue_refresh_s: float = QUEUE_REFRESH_S
    drain_window_s: float = DRAIN_WINDOW_S
    token_cache_s: float = TOKEN_CACHE_S
    rate_limits: str = RATE_LIMITS
    metrics_token_file: Path | None = None   # a token that opens /metrics alone (for a scraper)
    jwt_issuer: str | None = None            # all three set: JWT bearer tokens are accepted too
    jwt_audience: str | None = None
    jwt_jwks: str | None = None              # a JWKS file, or its URL
    jwt_roles_claim: str = JWT_ROLES_CLAIM
    jwt_feeders_claim: str = JWT_FEEDERS_CLAIM
    tls_cert: Path | None = None
    tls_key: Path | None = None
    allow_plaintext: bool = False            # a TLS-terminating proxy is in front of a non-loopback bind
    bootstrap_admin_token: bool = False      # serve: write <data_dir>/admin.token if no token exists
    webhook_timeout_s: float = WEBHOOK_TIMEOUT_S
    webhook_retry_factor: float = WEBHOOK_RETRY_FACTOR
    webhook_concurrency: int = WEBHOOK_CONCURRENCY
    webhook_per_endpoint: int = WEBHOOK_PER_ENDPOINT
    webhook_disable_after_s: float = WEBHOOK_DISABLE_AFTER_S
    webhook_allow_hosts: str = WEBHOOK_ALLOW_HOSTS
    events_poll_s: float = EVENTS_POLL_S
    event_retention_s: float = EVENT_RETENTION_S
    max_streams: int = MAX_STREAMS
    stream_buffer: int = STREAM_BUFFER
    stream_heartbeat_s: float = STREAM_HEARTBEAT_S
    stream_send_timeout_s: float = STREAM_SEND_TIMEOUT_S

    def with_overrides(self, **overrides: Any) -> "Settings":
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


_ENV = {
    "GRIDJOBS_DATABASE_URL": "database_url",
    "GRIDJOBS_DATA_DIR": "data_dir",
    "RAY_ADDRESS": "ray_address",
    "GRIDJOBS_SHARDS": "shards",
    "GRIDJOBS_SHARD_WAIT_S": "shard_wait_s",
    "GRIDJOBS_HOST": "host",
    "GRIDJOBS_PORT": "port",
    "GRIDJOBS_LEASE_S": "lease_s",
    "GRIDJOBS_POLL_S": "poll_s",
    "GRIDJOBS_MAX_RUNNING": "max_running",
    "GRIDJOBS_DRAIN_S": "drain_s",
    "GRIDJOBS_REQUEST_TIMEOUT_S": "request_timeout_s",
    "GRIDJOBS_LOG_LEVEL": "log_level",
    "GRIDJOBS_PROFILES_DIR": "profiles_dir",
    "GRIDJOBS_FIRMWARE_MAX_BYTES": "firmware_max_bytes",
    "GRIDJOBS_MASTER_KEY_FILE": "master_key_file",
    "GRIDJOBS_BULK_QUEUE_MAX": "bulk_queue_max",
    "GRIDJOBS_GRID_QUEUE_MAX": "grid_queue_max",
    "GRIDJOBS_EMERGENCY_PRIORITY": "emergency_priority",
    "GRIDJOBS_MAX_INFLIGHT": "max_inflight",
    "GRIDJOBS_GRID_INFLIGHT_RESERVE": "grid_inflight_reserve",
    "GRIDJOBS_QUEUE_REFRESH_S": "queue_refresh_s",
    "GRIDJOBS_DRAIN_WINDOW_S": "drain_window_s",
    "GRIDJOBS_TOKEN_CACHE_S": "token_cache_s",
    "GRIDJOBS_RATE_LIMITS": "rate_limits",
    "GRIDJOBS_METRICS_TOKEN_FILE": "metrics_token_file",
    "GRIDJOBS_JWT_ISSUER": "jwt_issuer",
    "GRIDJOBS_JWT_AUDIENCE": "jwt_audience",
    "GRIDJOBS_JWT_JWKS": "jwt_jwks",
    "GRIDJOBS_JWT_ROLES_CLAIM": "jwt_roles_claim",
    "GRIDJOBS_JWT_FEEDERS_CLAIM": "jwt_feeders_claim",
    "GRIDJOBS_TLS_CERT": "tls_cert",
    "GRIDJOBS_TLS_KEY": "tls_key",
    "GRIDJOBS_ALLOW_PLAINTEXT": "allow_plaintext",
    "GRIDJOBS_WEBHOOK_TIMEOUT_S": "webhook_timeout_s",
    "GRIDJOBS_WEBHOOK_RETRY_FACTOR": "webhook_retry_factor",
    "GRIDJOBS_WEBHOOK_CONCURRENCY": "webhook_concurrency",
    "GRIDJOBS_WEBHOOK_PER_ENDPOINT": "webhook_per_endpoint",
    "GRIDJOBS_WEBHOOK_DISABLE_AFTER_S": "webhook_disable_after_s",
    "GRIDJOBS_WEBHOOK_ALLOW_HOSTS": "webhook_allow_hosts",
    "GRIDJOBS_EVENTS_POLL_S": "events_poll_s",
    "GRIDJOBS_EVENT_RETENTION_S": "event_retention_s",
    "GRIDJOBS_MAX_STREAMS": "max_streams",
    "GRIDJOBS_STREAM_BUFFER": "stream_buffer",
    "GRIDJOBS_STREAM_HEARTBEAT_S": "stream_heartbeat_s",
    "GRIDJOBS_STREAM_SEND_TIMEOUT_S": "stream_send_timeout_s",
}


def from_env(env: Mapping[str, str]) -> Settings:
    types = {f.name: f.type for f in fields(Settings)}
    values: dict[str, Any] = {}
    for var, name in _ENV.items():
        raw = env.get(var)
        if raw:
            values[name] = _convert(var, raw, types[name])
    return Settings(**values)


def _convert(var: str, raw: str, type_name: str) -> Any:
    if type_name.startswith("bool"):
        if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise ConfigError(f"{var}={raw!r} is not a valid bool (1/0, true/false, yes/no)")
        return raw.lower() in ("1", "true", "yes")
    try:
        if type_name.startswith("int"):
            return int(raw)
        if type_name.startswith("float"):
            return float(raw)
        if type_name.startswith("Path"):
            return Path(raw)
    except ValueError as exc:
        raise ConfigError(f"{var}={raw!r} is not a valid {type_name.split()[0]}") from exc
    return raw
