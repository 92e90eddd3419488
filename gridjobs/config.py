"""Settings, read once at the entry point: GRIDJOBS_* variables, then CLI flags.

`Settings` is a pydantic-settings model: each field `name` is read from
GRIDJOBS_<NAME> (RAY_ADDRESS for `ray_address`) and validated; a bad value is one
ConfigError naming the variable (or flag), the value and what is allowed.
Nothing below the entry point reads the environment: `Settings(...)` built in code
takes only what it is given, `from_env` adds the environment it is handed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from typing import Any, Literal, Mapping

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

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
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
ENV_PREFIX = "GRIDJOBS_"
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


def default_shards(data: Mapping[str, Any]) -> int:
    """One shard per core, but on a local Ray one core is left to the API and Postgres.

    A shard's work is a ping-pong with its gateways. With more busy processes than
    cores, each answer waits for a core: on the 2-core machine, a 10,000-device shed's
    survey took 1.41-1.47 s in each of 2 shards (answers after 11-17 ms) and 1.0-1.17 s
    in 1 shard (3.4-7 ms); the whole shed 5.5-6.3 s against 4.4-5.6 s (bench/shed.py,
    --shards 2 and 1, six rounds each). On a cluster the shards run on worker nodes.
    """
    cores = os.cpu_count() or 1
    return cores if data.get("ray_address") is not None else max(1, cores - 1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid",
                                      env_ignore_empty=True, validate_default=False)

    database_url: str | None = None     # None: start the embedded PostgreSQL
    data_dir: Path = default_data_dir()
    ray_address: str | None = Field(default=None,   # None: start a local Ray
                                    validation_alias=AliasChoices("ray_address", "RAY_ADDRESS"))
    shards: int = Field(default_factory=default_shards, ge=1)   # after ray_address, which it reads
    shard_wait_s: float = SHARD_WAIT_S   # on a cluster: a shard silent this long is unavailable
    host: str = DEFAULT_HOST
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
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
    log_level: Literal["debug", "info", "warning", "error", "critical"] = LOG_LEVEL
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

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings],
                                   init_settings: PydanticBaseSettingsSource,
                                   **_others: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        """What the code gives, nothing else: `from_env` is where the environment comes in."""
        return (init_settings,)

    def with_overrides(self, **overrides: Any) -> "Settings":
        given = {k: v for k, v in overrides.items() if v is not None}
        return type(self).model_validate({**self.model_dump(), **given}) if given else self


class _Given(EnvSettingsSource):
    """pydantic-settings' environment source, over a mapping we are handed rather than os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._given = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._given, self.case_sensitive, self.env_ignore_empty,
                              self.env_parse_none_str)


def env_var(name: str) -> str:
    """The variable that sets field `name`."""
    return "RAY_ADDRESS" if name == "ray_address" else ENV_PREFIX + name.upper()


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def from_env(env: Mapping[str, str], flags: Mapping[str, Any] | None = None) -> Settings:
    """Settings from GRIDJOBS_* variables in `env`, then `flags` (field name -> value given
    on the command line). A bad value is a ConfigError naming where it came from."""
    values = _Given(Settings, env)()
    origin = {name: env_var(name) for name in values}
    for name, value in (flags or {}).items():
        if value is not None:
            values[name], origin[name] = value, flag(name)
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise _config_error(exc, values, origin) from None


def _config_error(exc: ValidationError, values: Mapping[str, Any], origin: Mapping[str, str]) -> ConfigError:
    error = exc.errors(include_url=False)[0]
    name = str(error["loc"][0]) if error["loc"] else "?"
    where = origin.get(name, name)
    value = values.get(name, error.get("input"))
    sep = " " if where.startswith("--") else "="
    allowed = error["msg"][0].lower() + error["msg"][1:]
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return ConfigError(f"{where}{sep}{str(value)!r} is not allowed: {allowed}{more}")


SECRET_WORDS = ("key", "token", "password", "secret")


def shown(settings: Settings, env: Mapping[str, str],
          flags: Mapping[str, Any] | None = None) -> list[tuple[str, str, str]]:
    """Each setting as `gridjobs config` prints it: (name, value with secrets masked, where
    it came from: a flag, a variable or the default)."""
    flags = flags or {}
    rows = []
    for name in Settings.model_fields:
        source = (flag(name) if flags.get(name) is not None
                  else env_var(name) if env.get(env_var(name)) else "default")
        rows.append((name, masked(name, getattr(settings, name)), source))
    return rows


def masked(name: str, value: Any) -> str:
    """A value fit to print: none of a secret's characters, a URL's password hidden.
    A path is shown (it names where a key is, not the key)."""
    if value is None:
        return "-"
    if isinstance(value, (Path, bool, int, float)):
        return str(value)
    if any(word in name for word in SECRET_WORDS):
        return "(hidden)"
    return _without_password(str(value))


def _without_password(text: str) -> str:
    text = _KEYWORD_PASSWORD.sub(r"\1****", text)   # password=... in a query or a libpq DSN
    parts = urlsplit(text)
    if parts.password is None:
        return text
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:****@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


_KEYWORD_PASSWORD = re.compile(r"((?:^|[?&\s;])(?:password|passwd|pwd)=)[^&\s;]*", re.IGNORECASE)
