"""The `registry` command: serve, migrate, administer, audit, and run the demo."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.progress import Progress

from registry.core.config import get_settings
from registry.core.db import get_engine, unit_of_work
from registry.orgs.models import OrgKind

app = typer.Typer(help="Origin Registry: traceability and brand registry.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
admin_app = typer.Typer(help="Organizations and API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")


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


@app.command()
def audit(
    batch: Annotated[str | None, typer.Option(help="audit one batch")] = None,
    all_: Annotated[bool, typer.Option("--all", help="audit every batch")] = False,
) -> None:
    """Recompute every chain hash; one line per broken chain, exit 1 if any is broken."""
    from registry.batches.audit import audit_all, audit_batch, count_events
    from registry.batches.service import get_batch

    if bool(batch) == all_:
        raise typer.BadParameter("give exactly one of --batch ID or --all")
    broken = 0
    with unit_of_work() as session:
        if batch:
            reports = [audit_batch(session, batch=get_batch(session, batch))]
        else:
            total = count_events(session)
            reports = []
            with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
                task = progress.add_task("auditing chains", total=total)
                checked = 0
                for report, n in audit_all(session):
                    checked += n
                    progress.update(task, completed=checked)
                    reports.append(report) if not report.intact else None
                    broken += 0 if report.intact else 1
                    if not report.intact:
                        first = report.problems[0]
                        print(
                            f"BROKEN batch {report.batch_id} first bad seq {first.seq}: {first.problem}"
                        )
            print(f"audited {checked} events: {broken} broken chain(s)")
            raise typer.Exit(1 if broken else 0)
    report = reports[0]
    if report.intact:
        print(f"batch {report.batch_id}: intact, {report.length} events, head {report.head_hash}")
        return
    first = report.problems[0]
    print(f"BROKEN batch {report.batch_id} first bad seq {first.seq}: {first.problem}")
    raise typer.Exit(1)


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
    base = f"http://{host}:{port}"
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
    print(
        f"    curl -H 'Authorization: Bearer {seed.keys.get('coop', '$COOP_KEY')}' {base}/v1/batches"
    )
    if seed.batch_ids:
        print(
            f"    curl -H 'Authorization: Bearer {seed.keys['regulator']}' "
            f"{base}/v1/batches/{seed.batch_ids[0]}/audit"
        )
    print(f"  OpenAPI docs: {base}/docs")
    if serve_api:
        _serve(host, port, 1)
