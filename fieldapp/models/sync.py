"""The phone sync protocol's own tables (docs/sync-protocol.md): device credentials, push receipts,
field conflicts kept for the reviewer, and photos."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._base import utcnow


class Device(db.Model):
    """A phone registered by a signed-in account. Its bearer token is shown once; only its SHA-256
    is stored (tokens are 256-bit random, so a fast hash is enough: nothing to brute-force)."""
    __tablename__ = "devices"
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    account = relationship("Account")


class SyncReceipt(db.Model):
    """One pushed item, by its client uid (the idempotency key). `payload_hash` tells a retry of the
    same item (duplicate) from a uid re-used for different content. A held item keeps its `payload`
    until the record it `waits_for` arrives; `record_uid` is the record it was applied to (for a
    person.new matched to an already registered document it differs from the item's entity_uid)."""
    __tablename__ = "sync_receipts"
    __table_args__ = (Index("ix_sync_receipts_status_waits_for", "status", "waits_for"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    item_uid: Mapped[str] = mapped_column(String(36), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"), index=True)
    op: Mapped[str] = mapped_column(String(24))
    entity_uid: Mapped[str] = mapped_column(String(36), index=True)
    record_uid: Mapped[str | None] = mapped_column(String(36))
    payload_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))  # accepted | conflict | held | rejected (held, then refused)
    waits_for: Mapped[str | None] = mapped_column(String(36))
    payload: Mapped[dict | None] = mapped_column(JSON)
    result: Mapped[dict] = mapped_column(JSON, default=dict)
    collected_at: Mapped[str | None] = mapped_column(String(40))  # as the phone sent it
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    applied_at: Mapped[datetime | None]


class Conflict(db.Model):
    """A field two editors changed to different values: neither value won, a reviewer decides.
    base/current/submitted are JSON values (the field at the editor's base version, the value
    saved meanwhile, the editor's value)."""
    __tablename__ = "conflicts"
    __table_args__ = (Index("ix_conflicts_entity", "entity", "entity_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[int]
    field: Mapped[str] = mapped_column(String(32))
    base: Mapped[object | None] = mapped_column(JSON)
    current: Mapped[object | None] = mapped_column(JSON)
    submitted: Mapped[object | None] = mapped_column(JSON)
    item_uid: Mapped[str | None] = mapped_column(String(36), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    resolution: Mapped[str | None] = mapped_column(String(12))  # kept | submitted (review/service.py)


class Photo(db.Model):
    """A photo of a house or a person, re-encoded on arrival; the file is instance/photos/<uid>.jpg."""
    __tablename__ = "photos"
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    of_entity: Mapped[str] = mapped_column(String(16))  # house | person
    of_uid: Mapped[str] = mapped_column(String(36), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    bytes: Mapped[int]  # size of the stored, re-encoded JPEG
    original_bytes: Mapped[int]  # size of the upload
    width: Mapped[int]
    height: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
