"""The log's public HTTP surface: checkpoint, key, proofs and entries (no key needed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from registry.core.auth import bearer_token, current_org
from registry.core.deps import SessionDep
from registry.log import proofs
from registry.log.checkpoints import require_checkpoint
from registry.log.keys import require_log_key, verifier_of
from registry.log.schemas import ConsistencyProof, InclusionProof, LogEntries
from registry.orgs.models import OrgKind

# Every endpoint answers 404 while the log has no key, no checkpoint or fewer leaves than
# asked for (NoCheckpoint, LogKeyMissing, TreeSizeUnavailable).
router = APIRouter(
    prefix="/v1/log",
    tags=["transparency log"],
    responses={404: {"description": "the log has no key, checkpoint or tree of that size yet"}},
)
Index = Annotated[int, Query(ge=0, le=2**53 - 1)]
Size = Annotated[int, Query(ge=1, le=2**53 - 1)]


@router.get("/checkpoint", response_class=PlainTextResponse)
def checkpoint(session: SessionDep) -> PlainTextResponse:
    """The latest signed checkpoint (C2SP tlog-checkpoint as a signed note)."""
    return PlainTextResponse(require_checkpoint(session).note)


@router.get("/key", response_class=PlainTextResponse)
def key(session: SessionDep) -> PlainTextResponse:
    """The log's verifier key, `<name>+<hex key id>+<base64 key>`, to pin in a witness."""
    return PlainTextResponse(verifier_of(require_log_key(session)).vkey + "\n")


@router.get("/proof/inclusion", response_model=InclusionProof)
def inclusion(leaf_index: Index, tree_size: Size, session: SessionDep) -> InclusionProof:
    return proofs.inclusion_proof(session, leaf_index=leaf_index, tree_size=tree_size)


@router.get("/proof/consistency", response_model=ConsistencyProof)
def consistency(first: Size, second: Size, session: SessionDep) -> ConsistencyProof:
    return proofs.consistency_proof(session, first=first, second=second)


@router.get("/entries", response_model=LogEntries)
def entries(start: Index, end: Index, request: Request, session: SessionDep) -> LogEntries:
    """Leaves [start, end) (end exclusive; at most 1000 per answer, fewer past the end).
    Public; with a regulator's or admin's key each entry also names its event."""
    caller = None if bearer_token(request) is None else current_org(request, session)
    named = caller is not None and caller.kind in (OrgKind.regulator, OrgKind.admin)
    return proofs.entries(session, start=start, end=end, name_events=named)
