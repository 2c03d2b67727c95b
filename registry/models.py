"""Imports every table so SQLModel.metadata is complete (Alembic and tests use it)."""

from sqlmodel import SQLModel

from registry.alerts.models import Alert
from registry.batches.models import Batch, Event
from registry.brands.models import Brand, License
from registry.jobs.models import Job
from registry.labels.models import LabelRun, SigningKey
from registry.log.models import LogCheckpoint, LogKey, LogLeaf, LogNode, LogPending, LogState
from registry.orgs.models import ApiKey, Organization
from registry.scans.models import Scan, ScanCounter, ScanStreamEntry

metadata = SQLModel.metadata

__all__ = [
    "Alert",
    "ApiKey",
    "Batch",
    "Brand",
    "Event",
    "Job",
    "LabelRun",
    "License",
    "LogCheckpoint",
    "LogKey",
    "LogLeaf",
    "LogNode",
    "LogPending",
    "LogState",
    "Organization",
    "Scan",
    "ScanCounter",
    "ScanStreamEntry",
    "SigningKey",
    "metadata",
]
