"""HTTP routes for jobs: ask for a label sheet, poll the job, download its result."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.responses import FileResponse

from registry.core.auth import CurrentOrg, WriteCaller, Writer
from registry.core.config import get_settings
from registry.core.deps import SessionDep
from registry.core.queue import TaskQueueDep
from registry.jobs import service
from registry.jobs.schemas import JobPublic, LabelSheetCreate
from registry.orgs.models import OrgKind

router = APIRouter(tags=["jobs"])


@router.post("/v1/labels/runs/{run_id}/sheet", status_code=202, response_model=JobPublic)
def request_label_sheet(
    run_id: str,
    body: LabelSheetCreate,
    response: Response,
    caller: Annotated[WriteCaller, Depends(Writer(*OrgKind))],
    queue: TaskQueueDep,
) -> JobPublic:
    """Queue a PDF of every label of the run, `layout` labels to a page, each QR code with
    its GTIN, lot and serial beside it. Answers at once with the job to poll; 422 with the
    reason if the run's codes do not fit the layout (see `GET /v1/labels/layouts`)."""
    with caller.unit() as (session, org):
        job = service.create_label_sheet_job(
            session,
            run_id=run_id,
            layout=body.layout,
            actor=org,
            queue=queue,
            base_url=get_settings().public_url,
        )
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return JobPublic.build(job)


@router.get("/v1/jobs/{job_id}", response_model=JobPublic)
def get_job(job_id: str, session: SessionDep, org: CurrentOrg) -> JobPublic:
    """The job's state and progress; `result_url` once it succeeded. Only its creator sees
    it (404 for everyone else)."""
    return JobPublic.build(service.get_job(session, job_id=job_id, actor=org))


@router.get(
    "/v1/jobs/{job_id}/result",
    response_class=FileResponse,
    responses={200: {"content": {"application/pdf": {}}}, 409: {"description": "still running"}},
)
def job_result(job_id: str, session: SessionDep, org: CurrentOrg) -> FileResponse:
    """Download a succeeded job's result (409 while it runs, 404 once it has expired)."""
    path, media_type, name = service.job_result(
        session, job_id=job_id, actor=org, output_dir=Path(get_settings().job_output_dir)
    )
    return FileResponse(path, media_type=media_type, filename=name)
