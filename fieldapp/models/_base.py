"""Shared column helpers for the models."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime


def utcnow() -> datetime:
    """Naive UTC 'now'. Every timestamp is stored as naive UTC so SQLite and PostgreSQL compare alike;
    the UI converts to Asia/Shanghai when it shows one. Pass the function, never its result, as a default."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_uid() -> str:
    """Records get a UUID as well as an integer key: phones create records offline and name them by it."""
    return str(uuid.uuid4())
