"""Collection IDs (采集证): who may sign in, in which role, for which villages."""
from __future__ import annotations

from datetime import date, datetime

from flask_login import UserMixin
from sqlalchemy import Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._base import utcnow

account_villages = Table(
    "account_villages",
    db.metadata,
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("village_id", ForeignKey("villages.id", ondelete="CASCADE"), primary_key=True),
)


class Account(UserMixin, db.Model):
    """An issued collection ID. The holder sets a PIN with a one-time activation code; revoking
    the ID (or changing the PIN) bumps session_version, which ends every open session at once."""
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    collection_id: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))  # rules.permissions.ROLES
    office: Mapped[str | None] = mapped_column(String(64))
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id"), index=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    activation_hash: Mapped[str | None] = mapped_column(String(255))
    activation_expires_at: Mapped[datetime | None]
    activated_at: Mapped[datetime | None]
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    valid_from: Mapped[date | None]  # printed on the badge (采集证); None = from issue
    valid_until: Mapped[date | None]
    # The badge's public verification page is /b/<badge_token>: unguessable, so the page cannot be
    # used to enumerate who holds IDs. Re-issuing a badge replaces the token.
    badge_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    photo_uid: Mapped[str | None] = mapped_column(String(36))  # the holder's portrait (photos table)
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(128))
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    session_version: Mapped[int] = mapped_column(default=1)

    villages = relationship("Village", secondary=account_villages, order_by="Village.sort_order")
    town = relationship("Town")

    def get_id(self) -> str:
        # Flask-Login keeps this in the session cookie: the version makes old cookies worthless
        # after a revocation or a PIN change.
        return f"{self.id}:{self.session_version}"

    @property
    def village_ids(self) -> frozenset[int]:
        return frozenset(v.id for v in self.villages)
