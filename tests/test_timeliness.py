"""The 及时率 on the dashboard, the late list and the reviewer throughput (rules/timeliness.py,
changefeed.note_review_decisions, progress/timely_views.py), on a controlled set of changes around
the 2024 National Day holiday, and `recount` rebuilding the same figures."""
from __future__ import annotations

from flask import current_app

import io
from datetime import date

from openpyxl import load_workbook
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import AuditEvent, CollectorDay, ReviewerDay

from .builders import make_account, make_town
from .timely_builders import approve_on, collected, return_on

SEP30, OCT8, OCT10, OCT11, OCT14 = (date(2024, 9, 30), date(2024, 10, 8), date(2024, 10, 10), date(2024, 10, 11),
                                    date(2024, 10, 14))
PERIOD = "as_of=2024-10-31&since=2024-09-01"


def _scene(monkeypatch):
    town, (east, west) = make_town()
    collector = make_account(town, "collector", [east])
    reviewer = make_account(town, "reviewer", [east])
    # Collected Monday 09-30: due 10-09 (the holiday week is off).
    on_time = collected(east, collector, date(2024, 9, 27), SEP30)  # known Fri, make-up Sun 09-29 counts
    late_in = collected(east, collector, date(2024, 9, 23), SEP30)  # 3 working days ended 09-26
    late_review = collected(east, collector, SEP30, SEP30)
    collected(east, collector, SEP30, SEP30)  # never reviewed: overdue
    returned = collected(east, collector, OCT11, OCT11)  # due Monday 10-14 (make-up Saturday 10-12)
    assert late_in.collected_late and not on_time.collected_late
    assert approve_on(monkeypatch, reviewer, [on_time, late_in], OCT8) == 2
    assert approve_on(monkeypatch, reviewer, [late_review], OCT10) == 1
    return_on(monkeypatch, reviewer, returned, OCT14)
    return town, east, west, collector, reviewer


def _figures():
    return ({(r.account_id, r.village_id, r.day): (r.records, r.reviewable, r.collected_late, r.reviewed, r.returned,
                                                   r.reviewed_late, r.timely)
             for r in db.session.scalars(select(CollectorDay))},
            {(r.account_id, r.village_id, r.day): (r.approved, r.returned, r.late)
             for r in db.session.scalars(select(ReviewerDay))})


def test_dashboard_shows_the_rate_and_review_figures(ctx, login, monkeypatch):
    town, east, _west, collector, reviewer = _scene(monkeypatch)
    supervisor = make_account(town, "supervisor")
    client = login(supervisor)
    body = client.get(f"/progress/figures?{PERIOD}").get_json()
    row = next(r for r in body["rows"] if r["village_id"] == east.id)
    # Judged: 4 decided + 1 overdue; timely: the on-time approval and the on-time return.
    assert row["review"] == {"pending": 1, "approved": 3, "returned": 1, "overdue": 1, "late": 3, "judged": 5,
                             "rate": 40.0}
    assert body["total"]["review"]["rate"] == 40.0
    page = client.get(f"/progress?{PERIOD}").get_data(as_text=True)
    assert "40.0%" in page and "until a review step exists" not in page
    village = client.get(f"/progress/villages/{east.id}?{PERIOD}").get_data(as_text=True)
    assert "40.0%" in village
    # A period that starts after 09-30 holds only the on-time return.
    body = client.get("/progress/figures?as_of=2024-10-31&since=2024-10-01").get_json()
    assert next(r for r in body["rows"] if r["village_id"] == east.id)["review"]["rate"] == 100.0


def test_late_list_filters_scope_and_audit(ctx, login, monkeypatch):
    town, east, west, collector, reviewer = _scene(monkeypatch)
    supervisor = make_account(town, "supervisor")
    client = login(supervisor)
    page = client.get("/progress/late?since=2024-09-01&until=2024-10-31").get_data(as_text=True)
    assert page.count('data-kind="collected_late"') == 1
    assert page.count('data-kind="reviewed_late"') == 1
    assert page.count('data-kind="overdue"') == 1
    assert "张三" not in page  # record kinds and staff only
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "progress.late")) is not None
    other = make_account(town, "collector", [east])
    mine = client.get(f"/progress/late?since=2024-09-01&until=2024-10-31&collector={other.id}").get_data(as_text=True)
    assert "data-kind=" not in mine
    head = make_account(town, "village_head", [west])
    assert login(head).get(f"/progress/late?village={east.id}").status_code == 404
    assert 'data-kind="overdue"' not in login(head).get("/progress/late?since=2024-09-01&until=2024-10-31").get_data(
        as_text=True)
    # Pages of PAGE_SIZE without a total: the next page exists exactly when more rows do.
    current_app.config["PAGE_SIZE"] = 2
    first = client.get("/progress/late?since=2024-09-01&until=2024-10-31").get_data(as_text=True)
    second = client.get("/progress/late?since=2024-09-01&until=2024-10-31&page=2").get_data(as_text=True)
    assert first.count("data-kind=") == 2 and "page=2" in first
    assert second.count("data-kind=") == 1 and "page=3" not in second and "page=1" in second


def test_throughput_per_day_month_and_files(ctx, login, monkeypatch):
    town, east, west, collector, reviewer = _scene(monkeypatch)
    client = login(make_account(town, "supervisor"))
    args = "since=2024-10-01&until=2024-10-31"
    assert "<td" in client.get(f"/progress/throughput?{args}").get_data(as_text=True)
    csv = client.get(f"/progress/throughput.csv?{args}")
    assert csv.data.startswith(b"\xef\xbb\xbf")
    lines = csv.data.decode("utf-8-sig").split("\r\n")
    assert [line.split(",")[0] for line in lines[1:4]] == ["2024-10-08", "2024-10-10", "2024-10-14"]
    assert lines[1].split(",")[3:] == ["2", "0", "2", "0"]
    assert lines[2].split(",")[3:] == ["1", "0", "1", "1"]
    assert lines[3].split(",")[3:] == ["0", "1", "1", "0"]
    book = load_workbook(io.BytesIO(client.get(f"/progress/throughput.xlsx?{args}&by=month").data))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[1][0] == "2024-10" and rows[1][3:] == (3, 1, 4, 1)
    head = make_account(town, "village_head", [west])
    assert "2024-10-08" not in login(head).get(f"/progress/throughput.csv?{args}").data.decode("utf-8-sig")


def test_recount_rebuilds_the_maintained_figures(ctx, runner, monkeypatch):
    _scene(monkeypatch)
    kept = _figures()
    assert kept[1] and any(v[3] for v in kept[0].values())
    db.session.execute(CollectorDay.__table__.delete())
    db.session.execute(ReviewerDay.__table__.delete())
    db.session.commit()
    assert runner.invoke(args=["recount"]).exit_code == 0
    db.session.remove()
    assert _figures() == kept
