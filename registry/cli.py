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
import uvicorn
from pydantic import ValidationError
from rich.progress import Progress

from registry.core.config import Settings, get_settings
from registry.core.db import get_engine, unit_of_work
from registry.orgs.models import OrgKind
from registry.verify import invalidation  # noqa: F401  (key and batch changes reach caches)

app = typer.Typer(help="Origin Registry: traceability and brand registry.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
admin_app = typer.Typer(help="Organizations and API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")
keys_app = typer.Typer(help="Label signing keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _serve(host: str, port: int, workers: int) -> None:
    uvicorn.run(
        "registry.main:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=get_settings().log_level.lower(),
    )


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(min=1)] = 1,
) -> None:
    """Serve the HTTP API (stateless: run several workers or machines behind a proxy)."""
    _serve(host, port, workers)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply the schema migrations."""
    from registry.migrate import upgrade

    upgrade(get_engine(), revision)
    print(f"database at {get_settings().database_url.split('@')[-1]} is at {revision}")


@admin_app.command("create-org")
def create_org(
    name: Annotated[str, typer.Option()],
    kind: Annotated[OrgKind, typer.Option()],
    county_code: Annotated[str | None, typer.Option()] = None,
    credit_code: Annotated[str | None, typer.Option()] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create an organization and its first API key (the key is printed once)."""
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
    org: Annotated[str, typer.Option(help="organization id")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Issue another API key for an organization (printed once)."""
    from registry.orgs.service import create_api_key

    with unit_of_work(write=True) as session:
        key, raw = create_api_key(session, org_id=org)
    out = {"id": key.id, "org_id": key.org_id, "api_key": raw}
    print(json.dumps(out) if as_json else raw)


def _settings_or_exit() -> Settings:
    """The settings, or a one-line error (e.g. production with the development passphrase)."""
    try:
        return get_settings()
    except ValidationError as exc:
        messages = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        print(f"error: {messages}", file=sys.stderr)
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
def keys_create(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Create the active label key (refused if one is active: use `rotate`)."""
    from registry.labels.service import create_key

    passphrase = _settings_or_exit().key_passphrase
    with _registry_errors(), unit_of_work(write=True) as session:
        key = create_key(session, passphrase=passphrase)
    _print_keys([key], as_json)


@keys_app.command("rotate")
def keys_rotate(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Retire the active key (its labels keep verifying) and create a new active one."""
    from registry.labels.service import rotate_key

    passphrase = _settings_or_exit().key_passphrase
    with _registry_errors(), unit_of_work(write=True) as session:
        key = rotate_key(session, passphrase=passphrase)
    _print_keys([key], as_json)


@keys_app.command("revoke")
def keys_revoke(key_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Revoke a key: every label it signed verifies as invalid from now on."""
    from registry.labels.service import revoke_key

    _settings_or_exit()
    with _registry_errors(), unit_of_work(write=True) as session:
        key = revoke_key(session, key_id=key_id)
    _print_keys([key], as_json)


@keys_app.command("list")
def keys_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every label key with its status (all are published in the JWKS)."""
    from registry.labels.service import list_keys

    _settings_or_exit()
    with unit_of_work() as session:
        keys = list_keys(session)
    _print_keys(keys, as_json)


@app.command("verify-code")
def verify_code(
    url: str,
    offline: Annotated[
        bool, typer.Option("--offline", help="check signature and key status only")
    ] = False,
    keys: Annotated[
        Path | None, typer.Option(help="JWKS file (from /.well-known/registry-keys.json)")
    ] = None,
    remote: Annotated[str | None, typer.Option(help="ask this registry (base URL)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Verify a label URL: exit 0 if genuine, 1 otherwise.

    Default: the full verdict from this registry's database. `--remote URL`: the full
    verdict from another registry over HTTP. `--offline --keys FILE`: only the signature
    and the key's status, with no database or network.
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
    batch: Annotated[str | None, typer.Option(help="audit one batch")] = None,
    all_: Annotated[bool, typer.Option("--all", help="audit every batch")] = False,
) -> None:
    """Recompute every chain hash; one line per broken chain, exit 1 if any is broken
    (exit 2 for a usage error such as an unknown batch)."""
    from registry.batches.audit import audit_all, audit_batch, count_events
    from registry.batches.service import get_batch
    from registry.core.errors import RegistryError

    if bool(batch) == all_:
        raise typer.BadParameter("give exactly one of --batch ID or --all")
    with unit_of_work() as session:
        if batch:
            try:
                report = audit_batch(session, batch=get_batch(session, batch))
            except RegistryError as exc:
                print(f"error: {exc.detail}", file=sys.stderr)
                raise typer.Exit(2) from None
            if not report.intact:
                _print_broken(report)
                raise typer.Exit(1)
            print(
                f"batch {report.batch_id}: intact, {report.length} events, head {report.head_hash}"
            )
            return
        broken = checked = 0
        with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
            task = progress.add_task("auditing chains", total=count_events(session))
            for report, n in audit_all(session):
                checked += n
                progress.update(task, completed=checked)
                if not report.intact:
                    broken += 1
                    _print_broken(report)
    print(f"audited {checked} events: {broken} broken chain(s)")
    raise typer.Exit(1 if broken else 0)


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
    host: str = "127.0.0.1",
    port: int = 8000,
    serve_api: Annotated[bool, typer.Option("--serve/--no-serve")] = True,
    out: Annotated[Path, typer.Option(help="where sample files are written")] = Path("demo-output"),
) -> None:
    """Migrate the database, seed a county brand with its chain of custody, and serve."""
    from registry.demo import seed_demo
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
    print(f"  OpenAPI docs: {base}/docs")
    if serve_api:
        _serve(host, port, 1)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def worker(ctx: typer.Context) -> None:
    """Run a Celery worker (`celery worker`; extra options are passed on, e.g.
    `--concurrency 4`). Needs REGISTRY_REDIS_URL."""
    if not _settings_or_exit().redis_url:
        print(
            "error: REGISTRY_REDIS_URL is not set (without it tasks run in-process)",
            file=sys.stderr,
        )
        raise typer.Exit(2)
    from workers.app import celery_app

    celery_app.worker_main(["worker", "--loglevel", get_settings().log_level, *ctx.args])


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def beat(ctx: typer.Context) -> None:
    """Run the Celery beat scheduler (`celery beat`; extra options are passed on): scan
    drains, chain audits of recently changed batches, job expiry. Run exactly one. Without
    REGISTRY_REDIS_URL the scheduled tasks run inside this process."""
    _settings_or_exit()
    from workers.app import celery_app

    celery_app.start(["beat", "--loglevel", get_settings().log_level, *ctx.args])


if __name__ == "__main__":
    app()
