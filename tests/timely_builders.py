"""Builders for the 及时率 tests: collected changes with known dates, decisions on a chosen day."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select

from fieldapp import records
from fieldapp.extensions import db
from fieldapp.models import Change
from fieldapp.review import desk

from .builders import make_house, resident_id


def collected(village, collector, known_on: date, collected_on: date) -> Change:
    """A person collected by `collector` through a sync on `collected_on` at 10:00 Beijing time."""
    house = make_house(village)
    person, _outcome, _ = records.add_person(
        records.Actor(collector.id, "sync", known_on=known_on,
                      collected_at=datetime.combine(collected_on, datetime.min.time()) + timedelta(hours=2)),
        house, {"name": "张三", "sex": "1", "id_type": "111", "id_number": resident_id(), "category": "local"})
    db.session.commit()
    return db.session.scalar(select(Change).where(Change.entity == "person", Change.entity_id == person.id))


def _on(monkeypatch, day: date) -> None:
    monkeypatch.setattr(desk, "local_today", lambda: day)
    monkeypatch.setattr(desk, "utcnow", lambda: datetime.combine(day, datetime.min.time()) + timedelta(hours=3))


def approve_on(monkeypatch, reviewer, changes, day: date) -> int:
    _on(monkeypatch, day)
    done = desk.approve(reviewer, [c.id for c in changes])
    db.session.commit()
    return done


def return_on(monkeypatch, reviewer, change, day: date) -> None:
    _on(monkeypatch, day)
    desk.return_change(reviewer, change.id, {"_": "照片不清"})
    db.session.commit()
