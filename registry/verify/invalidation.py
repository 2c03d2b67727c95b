"""Tells verification caches what a committed transaction changed (registry/verify/cache.py).

Session hooks, installed once per process on import: every ORM write to a signing key, a
brand, a license or a batch (an appended event or label run moves its batch's head, so the
batch is written too) names a topic; after the commit, and only then, the topics get new
tokens on the change board chosen by settings (Redis when configured, else this process).
A token changing before the commit could let a reader cache the old rows under the new
token; changing after it, a reader at worst reloads once more than needed.

Writes that bypass the ORM (raw SQL, a restored backup) are seen when cached state expires
(REGISTRY_VERIFY_CACHE_TTL).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from registry.batches.models import WRITTEN_OUTSIDE_FLUSH, Batch
from registry.brands.models import Brand, License
from registry.core.changes import change_board
from registry.core.config import get_settings
from registry.labels.models import SigningKey

log = logging.getLogger(__name__)
_TOPICS = "verify_cache_topics"
KEYS_TOPIC = "keys"


def lot_topic(gtin: str, lot: str) -> str:
    """Everything stored about the batches with this GTIN and lot: the batches, their
    events (the timeline, the chain) and their label runs."""
    return f"lot:{gtin}|{lot}"


def brand_topic(brand_id: str) -> str:
    """A brand's status and threshold, and its licenses."""
    return f"brand:{brand_id}"


def topics_of(instance: object) -> list[str]:
    if isinstance(instance, Batch):
        return [lot_topic(instance.gtin, instance.lot)] if instance.gtin else []
    if isinstance(instance, Brand):
        return [brand_topic(instance.id)]
    if isinstance(instance, License):
        return [brand_topic(instance.brand_id)]
    if isinstance(instance, SigningKey):
        return [KEYS_TOPIC]
    return []


def _after_flush(session: Session, _: Any) -> None:
    topics: set[str] = session.info.setdefault(_TOPICS, set())
    for instance in (*session.new, *session.dirty, *session.deleted):
        topics.update(topics_of(instance))


def _after_commit(session: Session) -> None:
    topics = session.info.pop(_TOPICS, None)
    for batch in session.info.pop(WRITTEN_OUTSIDE_FLUSH, ()):
        topics = (topics or set()) | set(topics_of(batch))
    if not topics:
        return
    try:
        change_board(get_settings().redis_url).changed(topics)
    except Exception:  # the write is committed; caches then catch up when their TTL runs out
        log.exception("could not publish cache invalidation for %s", sorted(topics))


def _after_rollback(session: Session) -> None:
    session.info.pop(_TOPICS, None)
    session.info.pop(WRITTEN_OUTSIDE_FLUSH, None)


def install() -> None:
    """Hook every Session of this process (idempotent)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)


install()
