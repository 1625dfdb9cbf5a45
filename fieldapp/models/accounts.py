"""Collection IDs (采集证): who may sign in, in which role, for which villages."""
from __future__ import annotations

from datetime import date, datetime

from flask_login import UserMixin
from sqlalchemy import Column, ForeignKey, Index, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._base import utcnow

account_villages = Table(
    "account_villages",
    db.metadata,
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("village_id", ForeignKey("villages.id", ondelete="CASCADE"), primary_key=True),
)

# Sub-areas (片区/楼组) an account is assigned to inside its villages; none = the whole villages.
account_sub_areas = Table(
    "account_sub_areas",
    db.metadata,
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("sub_area_id", ForeignKey("sub_areas.id", ondelete="CASCADE"), primary_key=True),
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
    # The holder's mobile number (11 digits, rules.identifiers.validate_mobile); shown masked in lists.
    phone: Mapped[str | None] = mapped_column(String(11))
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id"), index=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    activation_hash: Mapped[str | None] = mapped_column(String(255))
    activation_expires_at: Mapped[datetime | None]
    activated_at: Mapped[datetime | None]
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    # IDs issued together from one file (accountbulk) share a random batch key, so that the batch's
    # activation letters can be printed again (with new codes) after the issuing page is closed.
    issue_batch: Mapped[str | None] = mapped_column(String(32), index=True)
    valid_from: Mapped[date | None]  # printed on the badge (采集证); None = from issue
    valid_until: Mapped[date | None]
    # The badge's public verification page is /b/<badge_token>: unguessable, so the page cannot be
    # used to enumerate who holds IDs. Re-issuing a badge replaces the token.
    badge_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    photo_uid: Mapped[str | None] = mapped_column(String(36))  # the holder's portrait (photos table)
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(128))
    session_version: Mapped[int] = mapped_column(default=1)
    # The secret of the web session this account was loaded for (login_sessions.start / load); not
    # a column: Flask-Login keeps it in the signed cookie through get_id().
    login_token = None

    villages = relationship("Village", secondary=account_villages, order_by="Village.sort_order")
    sub_areas = relationship("SubArea", secondary=account_sub_areas, order_by="SubArea.sort_order")
    town = relationship("Town")

    def get_id(self) -> str:
        # Flask-Login keeps this in the session cookie: the random secret of one LoginSession row,
        # which sign-out, expiry, revocation or a PIN change end on the server.
        if self.login_token is None:
            raise RuntimeError("an account is signed in only through login_sessions.start()")
        return self.login_token

    @property
    def village_ids(self) -> frozenset[int]:
        return frozenset(v.id for v in self.villages)


class LoginSession(db.Model):
    """One web sign-in, so that it can be ended on the server (sign-out, idle or absolute limit,
    revocation): the cookie holds only a random secret, stored here as its SHA-256. Kept: when it
    began and was last used, why it ended, and the browser family (never the address)."""
    __tablename__ = "login_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    # Account.session_version when it began: revoking the ID or a new PIN bumps the account's.
    session_version: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(index=True)
    ended_reason: Mapped[str | None] = mapped_column(String(16))  # logout | idle | absolute | revoked | pin_changed
    user_agent: Mapped[str | None] = mapped_column(String(40))  # rules.sessions.user_agent_family


class LoginThrottle(db.Model):
    """Sign-in attempts counted in a fixed window, per (typed ID, source address) and per typed ID
    (throttle.py). `key` is a keyed hash of what is counted: neither the address nor the ID is stored."""
    __tablename__ = "login_throttles"
    __table_args__ = (Index("ix_login_throttles_window_started_at", "window_started_at"),)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_started_at: Mapped[datetime]
    attempts: Mapped[int]
