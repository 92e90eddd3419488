"""The one `gridjobs` command. Settings: GRIDJOBS_* variables, then flags.

Exit status (README "Stopping and exit codes"): 0 done, including `serve` stopped by SIGTERM
or SIGINT; 2 bad configuration or usage (a request refused as wrong, 4xx);
1 anything else; 130 a client verb interrupted by Ctrl-C.

Read verbs print tables for people and, with --json, the API's JSON for scripts
(stdout). Progress goes to stderr; logs stay quiet unless --verbose.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import asyncio
import json
import os
import sys
from pathlib import Path

import argcomplete

from gridjobs import cli_views, logs
from gridjobs.access.admin import ADMIN_TOKEN_FILENAME
from gridjobs.client import DEFAULT_URL, Client
from gridjobs.config import Settings, env_var, flag, from_env, shown
from gridjobs.errors import ConfigError, GridjobsError
from gridjobs.kinds import KINDS
from gridjobs.progress import ProgressPrinter, summary
from gridjobs.runtime import profile_catalog
from gridjobs.states import OutcomeState, Status

WAIT_TIMEOUT_S = 24 * 3600.0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130   # 128 + SIGINT, as shells report it
CANCEL_TIMEOUT_S = 10.0  # the cancel request sent on Ctrl-C with --cancel-on-interrupt


def _server_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--database-url", help="PostgreSQL URL (default: embedded PostgreSQL)")
    p.add_argument("--data-dir", type=Path, help="data directory for the embedded PostgreSQL")
    p.add_argument("--ray-address", help="existing Ray cluster (default: start a local Ray)")
    p.add_argument("--shards", type=int, help="number of DeviceShard actors (default: the CPU count, less one on a local Ray)")
    p.add_argument("--host", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="listen port (default 8080)")
    p.add_argument("--tls-cert", type=Path, help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--tls-key", type=Path, help="the certificate's private key (PEM, mode 0600)")
    p.add_argument("--allow-plaintext", action="store_true", default=None,
                   help="serve plain HTTP on a non-loopback address (a TLS proxy is in front)")
    _master_key_flag(p)
    _profiles_flag(p)
    _settings_flags(p)


def _settings_flags(p: argparse.ArgumentParser) -> None:
    """A flag for every setting the parser has none for yet: --lease-s for GRIDJOBS_LEASE_S.
    Values stay text here; the Settings model checks them, naming the flag if wrong."""
    have = {a.dest for a in p._actions}
    group = p.add_argument_group("settings", "every setting; each also from its variable")
    for name, info in Settings.model_fields.items():
        if name not in have:
            default = "" if info.default is None else f", default {info.default}"
            group.add_argument(flag(name), dest=name, metavar="VALUE",
                               help=f"{env_var(name)}{default}")


def _master_key_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--master-key-file", type=Path,
                   help="32-byte master key, mode 0600 (default with the embedded database: "
                        "<data-dir>/master.key, created if absent)")


def _keys_parser(keys: argparse._SubParsersAction) -> None:
    def admin(name: str, text: str) -> argparse.ArgumentParser:
        p = keys.add_parser(name, help=text)
        p.add_argument("--database-url", help="PostgreSQL URL (default: embedded PostgreSQL)")
        p.add_argument("--data-dir", type=Path, help="data directory for the embedded PostgreSQL")
        _master_key_flag(p)
        return p

    admin("provision", "store device keys from a keys file (mode 0600) as active").add_argument(
        "file", type=Path, help='JSON list of {"device_id", "version", "secret_b64"}')
    admin("rotate-master", "rewrap every device key under a new master key").add_argument(
        "--new-key-file", type=Path, required=True, help="the new master key (created if absent)")
    admin("slots", "list a device's key versions and states (no secrets)").add_argument("device_id")


def _tokens_parser(tokens: argparse._SubParsersAction) -> None:
    def admin(name: str, text: str) -> argparse.ArgumentParser:
        p = tokens.add_parser(name, help=text)
        p.add_argument("--database-url", help="PostgreSQL URL (default: embedded PostgreSQL)")
        p.add_argument("--data-dir", type=Path, help="data directory for the embedded PostgreSQL")
        return p

    create = admin("create", "create a token; it is printed once")
    create.add_argument("--name", required=True, help="who holds it, e.g. scada-north")
    create.add_argument("--role", action="append", required=True,
                        help="viewer, operator, engineer, installer, secadm or secaud (repeat for more)")
    area = create.add_mutually_exclusive_group(required=True)
    area.add_argument("--feeders", help="comma-separated feeders: its area of responsibility")
    area.add_argument("--all-feeders", action="store_true", help="every feeder")
    create.add_argument("--expires", help="lifetime such as 90d, 12h or 30m (default: never)")
    create.add_argument("--quiet", action="store_true", help="print the token alone")
    admin("list", "list tokens: names, roles, areas, expiry, last use (never the token)")
    admin("revoke", "revoke a token; every API process refuses it from its next request").add_argument("name")


def _shards_parser(shards: argparse._SubParsersAction) -> None:
    def on_ray(name: str, text: str) -> argparse.ArgumentParser:
        p = shards.add_parser(name, help=text)
        p.add_argument("--ray-address", help="the Ray cluster (or RAY_ADDRESS)")
        return p

    listing = on_ray("list", "the cluster's shards: name, actor id, node id")
    listing.add_argument("--json", action="store_true", help="one JSON object a line")
    listing.add_argument("--devices", action="store_true",
                         help="with --json: the devices each shard has driven since it started")
    on_ray("stop", "tear the cluster's shards down (stop every `gridjobs serve` first)")
    p = shards.add_parser("set-count", help="change the cluster's recorded shard count "
                                            "(every `gridjobs serve` stopped, shards stopped)")
    p.add_argument("count", type=int)
    p.add_argument("--database-url", help="PostgreSQL URL (default: embedded PostgreSQL)")
    p.add_argument("--data-dir", type=Path, help="data directory for the embedded PostgreSQL")


def _profiles_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profiles-dir", type=Path,
                   help="directory of user device profiles (.json/.toml), beside the shipped ones")


def _version() -> str:
    try:
        return importlib.metadata.version("gridjobs")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _client_flags(p: argparse.ArgumentParser, *, read: bool = False) -> None:
    if read:
        p.add_argument("--json", action="store_true", help="print the API's JSON (for scripts)")
    p.add_argument("--verbose", action="store_true", help="show log lines (quiet otherwise)")
    p.add_argument("--url", default=os.environ.get("GRIDJOBS_URL", DEFAULT_URL),
                   help=f"gridjobs API base URL (or GRIDJOBS_URL; default {DEFAULT_URL})")
    p.add_argument("--token-file", type=Path,
                   help="file holding the API token (default: GRIDJOBS_TOKEN, else <data dir>/admin.token)")
    p.add_argument("--ca-file", type=Path, default=_env_path("GRIDJOBS_CA_FILE"),
                   help="CA certificate(s) to trust for https:// URLs (or GRIDJOBS_CA_FILE)")


def _env_path(name: str) -> Path | None:
    return Path(os.environ[name]) if os.environ.get(name) else None


def _token(args: argparse.Namespace, settings: Settings) -> str | None:
    """GRIDJOBS_TOKEN, then --token-file, then the bootstrap admin token of the data dir."""
    if os.environ.get("GRIDJOBS_TOKEN"):
        return os.environ["GRIDJOBS_TOKEN"].strip()
    path = getattr(args, "token_file", None) or settings.data_dir / ADMIN_TOKEN_FILENAME
    try:
        return path.read_text().strip() or None
    except OSError as exc:
        if getattr(args, "token_file", None):
            raise ConfigError(f"--token-file {path}: {exc.strerror}") from None
        return None


def _client(args: argparse.Namespace) -> Client:
    return Client(args.url, token=args.token, ca_file=args.ca_file)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gridjobs", description=__doc__)
    parser.add_argument("--version", action="version", version=f"gridjobs {_version()}")
    verbs = parser.add_subparsers(dest="verb", required=True)
    serve = verbs.add_parser("serve", help="run the API server and dispatcher")
    _server_flags(serve)
    serve.add_argument("--intake-only", action="store_true",
                       help="accept and serve operations, but run none (no Ray, no dispatcher)")
    demo = verbs.add_parser("demo", help="run everything embedded and shed load on a simulated fleet")
    demo.add_argument("--devices", type=int, default=240, help="simulated devices (default 240)")
    demo.add_argument("--gateways", type=int, default=4, help="simulated gateways (default 4)")
    demo.add_argument("--shards", type=int, help="number of DeviceShard actors")
    demo.add_argument("--keep", action="store_true",
                      help="after the shed, keep the server and fleet running until Ctrl-C")
    demo.add_argument("--verbose", action="store_true", help="show the server's log lines")
    verbs.add_parser("simulate", help="serve a simulated fleet over Modbus/TCP "
                     "(see `gridjobs simulate --help`)", add_help=False)
    devices = verbs.add_parser("devices", help="device registry").add_subparsers(dest="action", required=True)
    imp = devices.add_parser("import", help="upsert devices from an inventory JSON file")
    imp.add_argument("file", type=Path)
    _client_flags(imp)
    submit = verbs.add_parser("submit", help="submit an operation").add_subparsers(dest="kind", required=True)
    _shed_parser(submit.add_parser("load-shed", help="shed kW from feeders or devices"))
    _der_parser(submit.add_parser("der-curtailment", help="limit or reduce DER generation"))
    _rollout_parser(submit.add_parser("rollout", help="roll firmware out: canary, then waves"))
    _rotation_parser(submit.add_parser("key-rotation", help="rotate the devices' command keys"))
    ops = verbs.add_parser("ops", help="operations").add_subparsers(dest="action", required=True)
    ls = ops.add_parser("list", help="list operations, newest first")
    ls.add_argument("--kind", type=_kind, help="only this kind: load-shed, der-curtailment, rollout or key-rotation")
    ls.add_argument("--status", choices=[s.value for s in Status], help="only in this status")
    ls.add_argument("--feeder", help="only those reaching this feeder")
    ls.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    _client_flags(ls, read=True)
    config = verbs.add_parser("config", help="print the effective settings (never a secret)")
    config.add_argument("--json", action="store_true", help="print them as JSON")
    config.add_argument("--url", default=None, help="the API URL client verbs use (or GRIDJOBS_URL)")
    _server_flags(config)
    completion = verbs.add_parser("completion", help="print a shell completion script: "
                                  "eval \"$(gridjobs completion bash)\"")
    completion.add_argument("shell", choices=("bash", "zsh", "fish", "tcsh"))
    fw = verbs.add_parser("firmware", help="firmware images").add_subparsers(dest="action", required=True)
    up = fw.add_parser("upload", help="upload an image file (stored once per bytes/version/profile)")
    up.add_argument("file", type=Path)
    up.add_argument("--version", required=True)
    up.add_argument("--profile", required=True, help="device profile the image is built for")
    _client_flags(up)
    _client_flags(fw.add_parser("list", help="list uploaded images"), read=True)
    for action, text in (("cancel", "cancel an operation"), ("resume", "resume a paused rollout")):
        verb = verbs.add_parser(action, help=text)
        verb.add_argument("id")
        _client_flags(verb)
    profiles = verbs.add_parser("profiles", help="device profiles").add_subparsers(dest="action", required=True)
    _profiles_flag(profiles.add_parser("list", help="list shipped and user profiles"))
    show = profiles.add_parser("show", help="show one profile's points and roles")
    show.add_argument("name")
    _profiles_flag(show)
    _tokens_parser(verbs.add_parser("tokens", help="API tokens: create, list, revoke").add_subparsers(
        dest="action", required=True))
    _keys_parser(verbs.add_parser("keys", help="device keys and the master key").add_subparsers(
        dest="action", required=True))
    _shards_parser(verbs.add_parser("shards", help="the Ray cluster's DeviceShard actors").add_subparsers(
        dest="action", required=True))
    status = verbs.add_parser("status", help="show an operation")
    status.add_argument("id")
    status.add_argument("--devices", action="store_true", help="also list its devices' outcomes")
    status.add_argument("--state", choices=[s.value for s in OutcomeState],
                        help="with --devices: only devices in this state")
    status.add_argument("--code", help="with --devices: only devices with this fault code")
    status.add_argument("--follow", action="store_true",
                        help="follow its event stream live until it ends, then show it")
    _client_flags(status, read=True)
    return parser


def _kebab(kind: str) -> str:
    return kind.replace("_", "-")


def _kind(value: str) -> str:
    """A kind by its API name or its `submit` verb: load-shed, der-curtailment, rollout, key-rotation."""
    kind = {"rollout": "firmware_rollout"}.get(value, value.replace("-", "_"))
    if kind not in KINDS:
        raise argparse.ArgumentTypeError(f"{value!r} is not a kind: {', '.join(_kebab(k) for k in KINDS)}")
    return kind


def _submit_flags(p: argparse.ArgumentParser, *, dry_run_help: str) -> None:
    """Scope, priority, idempotency, dry run, wait and URL: every submit verb has them."""
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--feeders", help="comma-separated feeder names")
    where.add_argument("--device-ids", help="comma-separated device ids")
    p.add_argument("--priority", type=int, help="-100..100, higher first (server default 0)")
    p.add_argument("--idempotency-key")
    p.add_argument("--dry-run", action="store_true", help=dry_run_help)
    p.add_argument("--wait", action="store_true", help="follow progress (its event stream) until the end")
    p.add_argument("--cancel-on-interrupt", action="store_true",
                   help="with --wait: Ctrl-C cancels the operation (otherwise it keeps running)")
    _client_flags(p)


def _shed_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target-kw", type=float, required=True)
    _submit_flags(p, dry_run_help="print the plan; touch nothing")
    _hold_flags(p)


def _hold_flags(p: argparse.ArgumentParser) -> None:
    hold = p.add_mutually_exclusive_group(required=True)
    hold.add_argument("--hold-s", type=float, help="seconds to hold before restoring")
    hold.add_argument("--hold-until-cancelled", action="store_true")
    p.add_argument("--stages", type=int, help="restore stages (server default 1)")
    p.add_argument("--stage-delay-s", type=float, help="seconds between restore stages")
    p.add_argument("--revert-timeout-s", type=int, help="dead-man timer on each device")
    p.add_argument("--verify-settle-s", type=float,
                   help="how long a device may take to ramp down before verification fails")


def _der_parser(p: argparse.ArgumentParser) -> None:
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--limit-kw", type=float, help="cap on the scope's total generation")
    how.add_argument("--reduce-kw", type=float, help="generation to take off the scope")
    _submit_flags(p, dry_run_help="print the plan; touch nothing")
    _hold_flags(p)


def _rotation_parser(p: argparse.ArgumentParser) -> None:
    _submit_flags(p, dry_run_help="print the devices it would rotate; touch nothing")
    p.add_argument("--max-parallel", type=int)
    p.add_argument("--failure-threshold-pct", type=float)
    p.add_argument("--min-executed", type=int)
    p.add_argument("--device-timeout-s", type=float)
    p.add_argument("--approval", choices=("auto", "manual"))


def _rollout_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--firmware-id", required=True, help="from `gridjobs firmware upload`")
    _submit_flags(p, dry_run_help="print the waves; touch nothing")
    p.add_argument("--waves", help="cumulative waves, percentages or counts "
                                    "(server default 1%%,10%%,50%%,100%%)")
    p.add_argument("--max-parallel", type=int)
    p.add_argument("--failure-threshold-pct", type=float)
    p.add_argument("--min-executed", type=int)
    p.add_argument("--soak-s", type=float)
    p.add_argument("--device-timeout-s", type=float)
    p.add_argument("--retries", type=int)
    p.add_argument("--approval", choices=("auto", "manual"))


def _scope(args: argparse.Namespace) -> dict:
    return ({"feeders": args.feeders.split(",")} if args.feeders
            else {"device_ids": args.device_ids.split(",")})


def _given(**values) -> dict:
    """Only what the user gave: the server's models hold the defaults."""
    return {k: v for k, v in values.items() if v is not None}


def _body(kind: str, args: argparse.Namespace, params: dict) -> dict:
    return {"kind": kind, "params": params, **_given(priority=args.priority)}


def rollout_body(args: argparse.Namespace) -> dict:
    waves = [int(w) if w.isdigit() else w for w in args.waves.split(",")] if args.waves else None
    return _body("firmware_rollout", args, {
        "firmware_id": args.firmware_id, "scope": _scope(args), **_given(
            waves=waves, max_parallel=args.max_parallel,
            failure_threshold_pct=args.failure_threshold_pct, min_executed=args.min_executed,
            soak_s=args.soak_s, device_timeout_s=args.device_timeout_s, retries=args.retries,
            approval=args.approval)})


def _hold(args: argparse.Namespace) -> dict:
    """hold_s (null: until cancelled), restore, revert timer, settle: every curtailment has them."""
    restore = _given(stages=args.stages, stage_delay_s=args.stage_delay_s)
    return {"hold_s": None if args.hold_until_cancelled else args.hold_s,
            **_given(restore=restore or None, revert_timeout_s=args.revert_timeout_s,
                     verify_settle_s=getattr(args, "verify_settle_s", None))}


def shed_body(args: argparse.Namespace) -> dict:
    return _body("load_shed", args, {"target_kw": args.target_kw, "scope": _scope(args), **_hold(args)})


def der_body(args: argparse.Namespace) -> dict:
    return _body("der_curtailment", args, {
        **_given(limit_kw=args.limit_kw, reduce_kw=args.reduce_kw), "scope": _scope(args), **_hold(args)})


def rotation_body(args: argparse.Namespace) -> dict:
    return _body("key_rotation", args, {"scope": _scope(args), **_given(
        max_parallel=args.max_parallel, failure_threshold_pct=args.failure_threshold_pct,
        min_executed=args.min_executed, device_timeout_s=args.device_timeout_s, approval=args.approval)})


BODIES = {"load-shed": shed_body, "der-curtailment": der_body, "rollout": rollout_body,
          "key-rotation": rotation_body}


def setting_flags(args: argparse.Namespace) -> dict:
    """The settings given as flags: field name -> value."""
    return {name: getattr(args, name) for name in Settings.model_fields
            if getattr(args, name, None) is not None}


def settings_for(args: argparse.Namespace) -> Settings:
    return from_env(os.environ, setting_flags(args))


async def _submit(args: argparse.Namespace) -> int:
    async with _client(args) as client:
        body = BODIES[args.kind](args)
        if args.dry_run:
            print(json.dumps(await client.submit(body, dry_run=True), indent=2))
            return 0
        op = await client.submit(body, key=args.idempotency_key)
        print(f"accepted {op['id']} ({op['status']})", flush=True)
        if not args.wait:
            return 0
        return await _follow(client, op["id"], cancel_on_interrupt=args.cancel_on_interrupt)


async def _follow(client: Client, operation_id: str, *, cancel_on_interrupt: bool = False,
                  show: str | None = "summary") -> int:
    """Progress from the operation's event stream (stderr), then (stdout) the `summary`, the
    `panel` or nothing (None); 0 if it succeeded. Ctrl-C leaves it running (and says so) or
    cancels it."""
    with ProgressPrinter() as printer:
        try:
            final = await client.follow(operation_id, on_update=printer, timeout_s=WAIT_TIMEOUT_S)
        except asyncio.CancelledError:   # Ctrl-C: asyncio.run cancels this task
            printer.close()
            return await _interrupted(client, operation_id, cancel_on_interrupt)
    if show == "panel":
        cli_views.out().print(cli_views.status_view(final, None))
    elif show == "summary":
        print(summary(final, await client.outcomes(operation_id)))
    return 0 if final["status"] == "succeeded" else EXIT_FAILURE


async def _interrupted(client: Client, operation_id: str, cancel: bool) -> int:
    if cancel:
        try:
            async with asyncio.timeout(CANCEL_TIMEOUT_S):
                op = await client.act(operation_id, "cancel")
            print(f"\ninterrupted: cancel requested for operation {operation_id} (status now "
                  f"{op['status']}); `gridjobs status {operation_id}` shows it", file=sys.stderr)
            return EXIT_INTERRUPTED
        except (GridjobsError, TimeoutError) as exc:
            print(f"\ninterrupted: could not cancel operation {operation_id}: "
                  f"{getattr(exc, 'detail', None) or type(exc).__name__}", file=sys.stderr)
    print(f"\ninterrupted: operation {operation_id} still running: "
          f"`gridjobs cancel {operation_id}` to stop it", file=sys.stderr)
    return EXIT_INTERRUPTED


def _print_json(value: object) -> None:
    print(json.dumps(value, indent=2))


async def _status(args: argparse.Namespace) -> int:
    async with _client(args) as client:
        if args.follow:
            code = await _follow(client, args.id, show=None if args.json else "panel")
            if not args.json and not args.devices:
                return code
        else:
            code = 0
        op = await client.operation(args.id)
        outcomes = None
        if args.devices:
            outcomes = [o for o in await client.outcomes(args.id)
                        if (args.state is None or o["state"] == args.state)
                        and (args.code is None or o["code"] == args.code)]
        if args.json:
            _print_json(outcomes if args.devices else op)
        elif args.follow:   # the panel is shown; the devices follow it
            cli_views.out().print(cli_views.devices_table(outcomes or []))
        else:
            cli_views.out().print(cli_views.status_view(op, outcomes))
    return code


async def _ops(args: argparse.Namespace) -> int:
    async with _client(args) as client:
        ops = await client.operations(kind=args.kind, status=args.status, feeder=args.feeder,
                                      limit=args.limit)
    if args.json:
        _print_json(ops)
    elif ops:
        cli_views.out().print(cli_views.operations_table(ops))
    else:
        print("no operations match", file=sys.stderr)
    return 0


async def _firmware(args: argparse.Namespace) -> int:
    async with _client(args) as client:
        if args.action == "upload":
            art = await client.upload_firmware(args.file, version=args.version, profile=args.profile)
            print(f"{art['id']}  {art['version']}  {art['profile']}  {art['size']} bytes  sha256 {art['sha256']}")
        elif args.json:
            _print_json(await client.firmware())
        else:
            for art in await client.firmware():
                print(f"{art['id']}  {art['version']:<12} {art['profile']:<20} {art['size']:>10} bytes")
    return 0


def _config(args: argparse.Namespace, settings: Settings) -> int:
    rows = shown(settings, os.environ, setting_flags(args))
    url = args.url or os.environ.get("GRIDJOBS_URL") or DEFAULT_URL
    url_from = "--url" if args.url else "GRIDJOBS_URL" if os.environ.get("GRIDJOBS_URL") else "default"
    token = ("set (hidden)", "GRIDJOBS_TOKEN") if os.environ.get("GRIDJOBS_TOKEN") else (
        str(settings.data_dir / ADMIN_TOKEN_FILENAME), "default")
    rows += [("url", url, url_from), ("token", *token)]
    if args.json:
        _print_json({name: {"value": value, "from": source} for name, value, source in rows})
    else:
        cli_views.out().print(cli_views.settings_table(rows))
    return 0


async def _act(args: argparse.Namespace) -> int:
    async with _client(args) as client:
        op = await client.act(args.id, args.verb)
        print(f"{op['id']}: {args.verb} requested; status now {op['status']}")
    return 0


async def _import(args: argparse.Namespace) -> int:
    async with _client(args) as client:
        print(f"imported {await client.import_devices(args.file)} devices")
    return 0


def _log_level(args: argparse.Namespace, settings: Settings) -> str:
    """Servers and admin verbs log at the configured level; client verbs and the demo
    stay quiet (warnings only) unless --verbose."""
    if args.verb in ("serve", "keys", "tokens", "profiles"):
        return settings.log_level
    return ("debug" if args.verb != "demo" else settings.log_level) if getattr(args, "verbose", False) else "warning"


def run(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    logs.configure(json=settings.log_json, level=_log_level(args, settings))
    if args.verb == "completion":
        sys.stdout.write(argcomplete.shellcode(["gridjobs"], shell=args.shell))
        return 0
    if args.verb == "config":
        return _config(args, settings)
    if args.verb == "serve":
        from gridjobs.serve import serve

        serve(settings, execute=not args.intake_only)
        return 0
    if args.verb == "demo":
        from gridjobs.demo import demo

        return demo(settings, devices=args.devices, gateways=args.gateways, keep=args.keep)
    if args.verb == "keys":
        from gridjobs.key_admin import run_keys

        return run_keys(settings, args.action, args)
    if args.verb == "profiles":
        from gridjobs.profile_view import show_profiles

        return show_profiles(profile_catalog(settings), args.action, getattr(args, "name", None))
    if args.verb == "shards":
        from gridjobs.shard_admin import run_shards

        return run_shards(settings, args)
    if args.verb == "tokens":
        from gridjobs.token_admin import run_tokens

        return run_tokens(settings, args)
    handlers = {"submit": _submit, "status": _status, "devices": _import, "firmware": _firmware,
                "cancel": _act, "resume": _act, "ops": _ops}
    args.token = _token(args, settings)
    return asyncio.run(handlers[args.verb](args))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["simulate"]:  # the fleet is its own program: gridjobs never imports it
        os.execv(sys.executable, [sys.executable, "-m", "simulators", *argv[1:]])
    parser = build_parser()
    argcomplete.autocomplete(parser)   # answers only when a shell's completion asks
    args = parser.parse_args(argv)
    try:
        return run(args)
    except GridjobsError as exc:
        print(f"gridjobs: error: {exc.detail}", file=sys.stderr)
        return EXIT_USAGE if _usage_error(exc) else EXIT_FAILURE
    except KeyboardInterrupt:   # `serve` handles SIGINT itself and returns 0
        return EXIT_INTERRUPTED


def _usage_error(exc: GridjobsError) -> bool:
    """Bad configuration, or a request refused as wrong (4xx): the caller must change it."""
    return isinstance(exc, ConfigError) or 400 <= exc.status < 500


if __name__ == "__main__":
    sys.exit(main())
