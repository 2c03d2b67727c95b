"""Imports every table so SQLModel.metadata is complete (Alembic and tests use it)."""

from sqlmodel import SQLModel

from registry.batches.models import Batch, Event
from registry.brands.models import Brand, License
from registry.orgs.models import ApiKey, Organization

metadata = SQLModel.metadata

__all__ = ["ApiKey", "Batch", "Brand", "Event", "License", "Organization", "metadata"]
