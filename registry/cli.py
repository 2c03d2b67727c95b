"""The `registry` command: serve, migrate, administer, audit, and run the demo."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from registry.cli_help import RegistryTyper
from registry.core.config import Settings, get_settings
from registry.core.db import get_engine, unit_of_work
from registry.core.heap import start_up_heap_frozen
from registry.orgs.models import OrgKind
from registry.verify import invalidation  # noqa: F401  (key and batch changes reach caches)

app = RegistryTyper(
    help="Origin Registry: traceability and brand registry for county brands.\n\n"
    "Records each batch's life in hash-chained events, signs the QR labels on its packaging "
    "and answers whether a label is genuine. Settings come from REGISTRY_* environment "
    "variables (see the README); `registry COMMAND --help` tells more about a command.",
    no_args_is_help=True,
)
db_app = RegistryTyper(help="Database schema.", no_args_is_help=True)
admin_app = RegistryTyper(help="Organizations and API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")
keys_app = RegistryTyper(help="Label signing keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _serve(host: str, port: int, workers: int) -> None:
    import uvicorn

    from registry.core.lanes import SERVING_LOOP

    uvicorn.run(
        "registry.main:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop=SERVING_LOOP,
        log_level=get_settings().log_level.lower(),
        # The client's address is the registry's to judge (REGISTRY_TRUSTED_PROXIES).
        proxy_headers=False,
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, metavar="N", help="API processes (uvicorn workers).")
    ] = 1,
) -> None:
    """Serve the HTTP API.

    The API keeps no state between requests: run several processes here, or on several
    machines behind a proxy, against one database and one Redis. Label URLs use
    REGISTRY_PUBLIC_URL, which should be the address clients reach.

    Refuses to start (exit 2, a few lines saying what to do) when the settings are refused,
    the database cannot be reached, or its schema is not at this version's revision.

    \b
    Examples:
      registry serve
      registry serve --host 0.0.0.0 --port 8080 --workers 4
      REGISTRY_DATABASE_URL=postgresql+psycopg://registry@db/registry registry serve
    """
    _preflight_or_exit()
    _serve(host, port, workers)


def _preflight_or_exit() -> None:
    from registry.preflight import PreflightError, check

    try:
        check()
    except PreflightError as exc:
        for line in exc.lines:
            print(f"error: {line}", file=sys.stderr)
        raise typer.Exit(2) from None


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Migration to go to.")] = "head",
) -> None:
    """Apply the schema migrations.

    Safe to run again: migrations already applied are skipped. Run it before starting a new
    version of the API and its workers.
    """
    from sqlalchemy.exc import OperationalError

    from registry.migrate import upgrade
    from registry.preflight import PreflightError, connection_refused, database_url

    try:
        url = database_url(_settings_or_exit().database_url)
        try:
            upgrade(get_engine(), revision)
        except OperationalError as exc:
            raise connection_refused(exc, url) from None
    except PreflightError as exc:
        for line in exc.lines:
            print(f"error: {line}", file=sys.stderr)
        raise typer.Exit(2) from None
    print(f"database at {get_settings().database_url.split('@')[-1]} is at {revision}")


@admin_app.command("create-org")
def create_org(
    name: Annotated[str, typer.Option(help="Registered (legal) name.")],
    kind: Annotated[
        OrgKind,
        typer.Option(
            metavar="KIND", help="admin, brand_owner, cooperative, handler, platform or regulator."
        ),
    ],
    county_code: Annotated[
        str | None, typer.Option(metavar="CODE", help="6-digit county code, e.g. 522632.")
    ] = None,
    credit_code: Annotated[
        str | None, typer.Option(metavar="CODE", help="18-character unified social credit code.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create an organization and its first API key.

    The key is printed once and stored only as a hash: keep it. The first admin is made
    this way; later organizations can also be created over HTTP by an admin.

    \b
    Example:
      registry admin create-org --name "Registry admin" --kind admin --json
    """
    from registry.orgs.schemas import OrgCreate
    from registry.orgs.service import create_org as create

    try:
        body = OrgCreate(name=name, kind=kind, county_code=county_code, credit_code=credit_code)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    with unit_of_work(write=True) as session:
        org, key = create(session, **body.model_dump())
    out = {
        "id": org.id,
        "name": org.name,
        "kind": str(org.kind),
        "county_code": org.county_code,
        "api_key": key,
    }
    print(
        json.dumps(out, ensure_ascii=False)
        if as_json
        else "\n".join(f"{k}: {v}" for k, v in out.items())
    )


@admin_app.command("create-key")
def create_key(
    org: Annotated[str, typer.Option(metavar="ID", help="Organization id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Issue another API key for an organization.

    The key is printed once. Older keys keep working.
    """
    from registry.orgs.service import create_api_key

    with unit_of_work(write=True) as session:
        key, raw = create_api_key(session, org_id=org)
    out = {"id": key.id, "org_id": key.org_id, "api_key": raw}
    print(json.dumps(out) if as_json else raw)


@admin_app.command("create-user")
def create_user(
    org: Annotated[str, typer.Option(metavar="ORG_ID", help="The organization's id.")],
    username: Annotated[str, typer.Option(metavar="NAME", help="A username or a phone number.")],
    role: Annotated[
        str, typer.Option(metavar="ROLE", help="member, or admin (admins manage members).")
    ] = "member",
    display_name: Annotated[
        str | None, typer.Option(metavar="NAME", help="The name shown in the console.")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a console login for a member of an organization.

    A generated password is printed once, unless --password-stdin reads one from standard
    input.

    \b
    Examples:
      registry admin create-user --org "$COOP_ID" --username zhang.wei
      echo "$PASSWORD" | registry admin create-user --org "$COOP_ID" --username li --password-stdin
    """
    from registry.console.cli_users import create_user as create
    from registry.console.models import MemberRole

    if role not in MemberRole.__members__:
        raise typer.BadParameter(f"--role must be one of {', '.join(MemberRole)}")
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    _settings_or_exit()
    with _registry_errors():
        lines = create(
            org_id=org,
            username=username,
            role=MemberRole(role),
            display_name=display_name,
            password=password,
            as_json=as_json,
        )
    print("\n".join(lines))


def _settings_or_exit() -> Settings:
    """The settings, or one line per refused value (e.g. production with the development
    passphrase) and exit status 2."""
    from registry.preflight import PreflightError, settings

    try:
        return settings()
    except PreflightError as exc:
        for line in exc.lines:
            print(f"error: {line}", file=sys.stderr)
        raise typer.Exit(2) from None


@contextmanager
def _registry_errors() -> Iterator[None]:
    """A refused action is one line on stderr and exit status 1, not a traceback."""
    from registry.core.errors import RegistryError

    try:
        yield
    except RegistryError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        raise typer.Exit(1) from None


def _print_keys(keys: list[Any], as_json: bool) -> None:
    from registry.labels.schemas import SigningKeyPublic

    rows = [SigningKeyPublic.build(k) for k in keys]
    if as_json:
        print(json.dumps([r.model_dump(mode="json") for r in rows]))
        return
    for r in rows:
        since = r.revoked_at or r.retired_at or r.created_at
        print(f"{r.key_id}  {r.status:<8} since {since:%Y-%m-%d %H:%M:%S}Z")


@keys_app.command("create")
def keys_create(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    log: Annotated[
        bool, typer.Option("--log", help="Create the transparency log's checkpoint key instead.")
    ] = False,
) -> None:
    """Create the active label signing key, or the log's checkpoint key.

    Refused if a label key is already active: use `registry keys rotate`. With `--log`,
    creates the transparency log's checkpoint key and prints its verifier key for
    witnesses to pin.
    """
    from registry.labels.service import create_key

    if log:
        from registry.log.cli_log import create_log_key_command

        status, line = create_log_key_command(_settings_or_exit(), as_json=as_json)
        print(line, file=sys.stderr if status else sys.stdout)
        raise typer.Exit(status)
    passphrase = _settings_or_exit().key_passphrase
    with _registry_errors(), unit_of_work(write=True) as session:
        key = create_key(session, passphrase=passphrase)
    _print_keys([key], as_json)


@keys_app.command("rotate")
def keys_rotate(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Retire the active label key and create a new one.

    Labels signed with the retired key keep verifying: its public key stays published.
    """
    from registry.labels.service import rotate_key

    passphrase = _settings_or_exit().key_passphrase
    with _registry_errors(), unit_of_work(write=True) as session:
        key = rotate_key(session, passphrase=passphrase)
    _print_keys([key], as_json)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="4 hex digits.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Revoke a label key.

    Every label it signed verifies as invalid from now on; offline verifiers learn it from
    the published key set within minutes. There is no undo.
    """
    from registry.labels.service import revoke_key

    _settings_or_exit()
    with _registry_errors(), unit_of_work(write=True) as session:
        key = revoke_key(session, key_id=key_id)
    _print_keys([key], as_json)


@keys_app.command("list")
def keys_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List every label key with its status.

    All of them are published at /.well-known/registry-keys.json.
    """
    from registry.labels.service import list_keys

    _settings_or_exit()
    with unit_of_work() as session:
        keys = list_keys(session)
    _print_keys(keys, as_json)


@app.command("verify-code")
def verify_code(
    url: Annotated[str, typer.Argument(help="The label URL from the QR code.")],
    offline: Annotated[
        bool, typer.Option("--offline", help="Check the signature and key status only.")
    ] = False,
    keys: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="Key set from /.well-known/registry-keys.json."),
    ] = None,
    remote: Annotated[
        str | None, typer.Option(metavar="URL", help="Ask this registry (its base URL).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Verify a label URL: exit 0 if genuine, 1 otherwise.

    By default the verdict comes from this registry's database. With --remote it comes
    from another registry over HTTP. With --offline and --keys only the signature and the
    key's status are checked, with no database and no network. Checks from this command
    are not counted as consumer scans.

    \b
    Examples:
      registry verify-code 'https://registry.example.cn/01/06901234567892/10/RJ-A/21/00000001?8030=...'
      registry verify-code "$URL" --remote https://registry.example.cn --json
      curl -s https://registry.example.cn/.well-known/registry-keys.json > keys.json
      registry verify-code "$URL" --offline --keys keys.json
    """
    from registry.verify import cli_verify

    if offline and remote:
        raise typer.BadParameter("--offline and --remote exclude each other")
    if offline:
        if keys is None:
            raise typer.BadParameter("--offline needs --keys FILE (a JWKS document)")
        ok, lines = cli_verify.offline(url, keys, as_json=as_json)
    elif remote:
        ok, lines = cli_verify.remote(url, remote, as_json=as_json)
    else:
        _settings_or_exit()
        ok, lines = cli_verify.local(url, as_json=as_json)
    print("\n".join(lines))
    raise typer.Exit(0 if ok else 1)


def _print_broken(report: Any) -> None:
    first = report.problems[0]
    print(f"BROKEN batch {report.batch_id} first bad seq {first.seq}: {first.problem}")


@app.command()
def audit(
    batch: Annotated[str | None, typer.Option(metavar="ID", help="Audit one batch.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Audit every batch.")] = False,
    remote: Annotated[
        str | None,
        typer.Option(metavar="URL", help="Witness another registry's log (its base URL)."),
    ] = None,
    log_key: Annotated[
        str | None, typer.Option(metavar="KEY", help="The log's pinned verifier key.")
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="Witness state file (the last checkpoint seen)."),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(metavar="KEY", help="A regulator's key: spot-check entries' events."),
    ] = None,
    sample: Annotated[
        int | None,
        typer.Option(min=1, metavar="N", help="Check N random new entries by proof."),
    ] = None,
) -> None:
    """Check hash chains, or witness a registry's transparency log.

    Prints one line per broken chain, naming the batch and its first bad record, and exits
    with status 1 if any chain is broken, 0 if all are intact, 2 for a usage error such as
    an unknown batch. A progress bar shows on a terminal.

    With `--remote URL --log-key KEY`, witnesses a registry's log from outside, with none of
    its settings: checks the checkpoint's signature and its consistency with the last one
    seen (kept in `--state`), re-derives the root from new entries and, with a regulator's
    `--api-key`, spot-checks sampled entries against their events. Exits 1 with one line
    per problem.

    \b
    Examples:
      registry audit --all
      registry audit --batch 6f1c2d4e-0a8b-4c1d-9e2f-3a4b5c6d7e8f
      registry audit --remote https://registry.example.cn --log-key "$LOG_KEY" --state witness.json
    """
    if remote is not None:
        from registry.log.cli_log import remote_audit

        if not log_key or batch or all_:
            raise typer.BadParameter("--remote needs --log-key and excludes --batch/--all")
        status, lines = remote_audit(remote, log_key, state=state, api_key=api_key, sample=sample)
        print("\n".join(lines))
        raise typer.Exit(status)
    from rich.progress import Progress

    from registry.batches.audit import audit_all, audit_batch, count_events
    from registry.batches.service import get_batch
    from registry.core.errors import RegistryError
    from registry.log.cli_log import local_log_problems

    if bool(batch) == all_:
        raise typer.BadParameter("give exactly one of --batch ID or --all")
    if batch:
        with unit_of_work() as session:
            try:
                report = audit_batch(session, batch=get_batch(session, batch))
            except RegistryError as exc:
                print(f"error: {exc.detail}", file=sys.stderr)
                raise typer.Exit(2) from None
        if not report.intact:
            _print_broken(report)
            raise typer.Exit(1)
        print(f"batch {report.batch_id}: intact, {report.length} events, head {report.head_hash}")
        return
    broken = checked = 0
    # ~10 objects per event: collections that skip the modules and come less often.
    with start_up_heap_frozen():
        with (
            unit_of_work() as session,
            Progress(transient=True, disable=not sys.stderr.isatty()) as progress,
        ):
            task = progress.add_task("auditing chains", total=count_events(session))
            for report, n in audit_all(session):
                checked += n
                progress.update(task, completed=checked)
                if not report.intact:
                    broken += 1
                    _print_broken(report)
        log_lines = local_log_problems()
    for line in log_lines:
        print(line)
    print(f"audited {checked} events: {broken} broken chain(s), {len(log_lines)} log problem(s)")
    raise typer.Exit(1 if broken or log_lines else 0)


def _demo_labels(seed: Any, out: Path, base_url: str) -> list[Any]:
    """Write the demo run's first label codes as PNG QR images; return those codes."""
    from registry.demo import sample_labels
    from registry.labels.qr import render_png

    with unit_of_work() as session:
        codes = sample_labels(session, seed, base_url=base_url)
    for code in codes:
        (out / f"label-{code.serial}.png").write_bytes(render_png(code.url))
    return codes


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
    serve_api: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API after seeding.")
    ] = True,
    out: Annotated[
        Path, typer.Option(metavar="DIR", help="Where API keys and QR images are written.")
    ] = Path("demo-output"),
) -> None:
    """Seed a demo county brand and serve it.

    Migrates the database (a SQLite file unless REGISTRY_DATABASE_URL says otherwise),
    seeds Rongjiang navel oranges with its owner, cooperatives, a handler and a regulator,
    three batches from harvest to shipment in Chinese and English, and a run of signed
    labels; writes QR images of a few labels; prints the API keys, the URLs to scan and the
    brand page; then serves on HOST:PORT. Run again, it issues new keys and seeds nothing.

    \b
    Examples:
      registry demo
      registry demo --port 8080 --out /tmp/demo
      registry demo --no-serve && registry serve --workers 2
    """
    from registry.demo import BRAND_SLUG, seed_demo
    from registry.migrate import upgrade

    base = f"http://{host}:{port}"
    if "REGISTRY_PUBLIC_URL" not in os.environ:
        # Label URLs (printed, in QR images and in verdicts) must point at this server.
        os.environ["REGISTRY_PUBLIC_URL"] = base
        get_settings.cache_clear()
    upgrade(get_engine())
    with unit_of_work(write=True) as session:
        seed = seed_demo(session)
    out.mkdir(parents=True, exist_ok=True)
    keys_file = out / "api-keys.json"
    keys_file.write_text(
        json.dumps(
            {k: {"org_id": seed.orgs[k].id, "api_key": v} for k, v in seed.keys.items()}, indent=2
        )
    )
    labels = _demo_labels(seed, out, base)
    print(
        "Origin Registry demo"
        + ("" if seed.created else " (database already seeded: new keys issued)")
    )
    print(f"  database: {get_settings().database_url}")
    print(f"  API keys (shown once, also in {keys_file}):")
    for k, v in seed.keys.items():
        print(f"    {k:<10} {v}")
    print("  try:")
    print(f"    curl {base}/v1/brands")
    coop_key = seed.keys.get("coop", "$COOP_KEY")
    print(f"    curl -H 'Authorization: Bearer {coop_key}' {base}/v1/batches")
    if seed.batch_ids:
        print(
            f"    curl -H 'Authorization: Bearer {seed.keys['regulator']}' "
            f"{base}/v1/batches/{seed.batch_ids[0]}/audit"
        )
    if labels:
        print(f"  label URLs to scan (QR images in {out}/):")
        for code in labels:
            print(f"    {code.url}")
        print(f"    curl -H 'Accept: application/json' '{labels[0].url}'")
    print(f"  brand page: {base}/brands/{BRAND_SLUG}  (English: ?lang=en)")
    print(f"    {base}/brands/{BRAND_SLUG}?lang=en")
    print(f"  front door: {base}/   API docs (offline): {base}/docs")
    if serve_api:
        _serve(host, port, 1)


@app.command("sync")
def sync_outbox(
    outbox: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="The outbox, JSON lines.")
    ],
    url: Annotated[str, typer.Option(metavar="URL", help="The registry's base URL.")],
    key: Annotated[
        str, typer.Option(metavar="KEY", help="The API key.", envvar="REGISTRY_API_KEY")
    ],
    record: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="Answers so far (default: OUTBOX.accepted.jsonl)."),
    ] = None,
    chunk_size: Annotated[
        int, typer.Option(min=1, max=1000, metavar="N", help="Items per request.")
    ] = 200,
) -> None:
    """Send an offline outbox to a registry.

    Reads OUTBOX (one event and its idempotency key per line) and sends it in chunks to
    URL's /v1/sync, retrying with backoff what failed in transit. Items the record already
    holds an answer for (accepted or refused) are never sent again, so running it twice
    sends nothing twice. Exits 0 when every item is accepted, 1 if some were refused (each
    printed), 2 if the upload could not finish (run it again to continue).

    \b
    Examples:
      registry sync outbox.jsonl --url https://registry.example.cn --key "$COOP_KEY"
    """
    from registry.batches.cli_sync import SyncAborted, sync_outbox

    record = record or outbox.with_name(outbox.name + ".accepted.jsonl")
    try:
        report = sync_outbox(outbox, url=url, key=key, record=record, chunk_size=chunk_size)
    except SyncAborted as exc:
        print(f"error: {exc} (answers so far are in {record}; run again to continue)",
              file=sys.stderr)  # fmt: skip
        raise typer.Exit(2) from None
    print(
        f"sent {report.sent}: {report.created} created, {report.duplicate} duplicate, "
        f"{len(report.refused)} refused; {report.already_recorded} already recorded; "
        f"{report.retries} retries"
    )
    raise typer.Exit(1 if report.refused else 0)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def worker(ctx: typer.Context) -> None:
    """Run a Celery worker.

    Renders label sheets and drains the scan stream. Needs REGISTRY_REDIS_URL; extra
    options go to `celery worker`, e.g. `registry worker --concurrency 4`.
    """
    if not _settings_or_exit().redis_url:
        print(
            "error: REGISTRY_REDIS_URL is not set (without it tasks run in-process)",
            file=sys.stderr,
        )
        raise typer.Exit(2)
    _preflight_or_exit()
    from workers.app import celery_app

    celery_app.worker_main(["worker", "--loglevel", get_settings().log_level, *ctx.args])


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def beat(ctx: typer.Context) -> None:
    """Run the Celery beat scheduler (run exactly one).

    Schedules scan drains, chain audits of recently changed batches and job expiry.
    Without REGISTRY_REDIS_URL the scheduled tasks run inside this process. Extra options
    go to `celery beat`.
    """
    _settings_or_exit()
    from workers.app import celery_app

    celery_app.start(["beat", "--loglevel", get_settings().log_level, *ctx.args])


if __name__ == "__main__":
    app()


@app.command("export")
def export(
    format: Annotated[str, typer.Option(help="epcis (EPCIS 2.0 JSON-LD) or csv (FSMA 204)")],
    brand: Annotated[str | None, typer.Option(help="every event of this brand (slug)")] = None,
    batch: Annotated[str | None, typer.Option(help="one batch's events")] = None,
    gtin: Annotated[str | None, typer.Option(help="with --lot: one lot's events")] = None,
    lot: Annotated[str | None, typer.Option(help="with --gtin")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="first day, YYYY-MM-DD")] = None,
    to: Annotated[str | None, typer.Option(help="last day, YYYY-MM-DD (included)")] = None,
    output: Annotated[Path | None, typer.Option(help="file to write (default: stdout)")] = None,
) -> None:
    """Export events for regulators (EPCIS 2.0 or FSMA 204 CSV).

    EPCIS 2.0 JSON-LD or the FSMA 204 sortable spreadsheet (CSV, UTF-8 with BOM), for a
    brand, a batch or a lot, optionally between two days (UTC, both included).

    \b
    Examples:
      registry export --brand rongjiang-navel-orange --format epcis --output brand.jsonld
      registry export --brand rongjiang-navel-orange --format csv --from 2026-11-01 --to 2026-11-30
    """
    from registry.audit.cli_export import run_export

    settings = _settings_or_exit()
    with _registry_errors():
        total = run_export(
            settings,
            format=format,
            brand=brand,
            batch_id=batch,
            gtin=gtin,
            lot=lot,
            date_from=from_,
            date_to=to,
            output=output,
        )
    print(f"exported {total} events", file=sys.stderr)
