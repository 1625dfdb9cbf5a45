"""The campaign editor: admins create and edit their town's campaigns; bad dates and targets come
back as 422 with the input kept and each problem next to its field; saving tells dashboards."""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from fieldapp.extensions import db
from fieldapp.models import AuditEvent, Campaign, DashboardEvent

from .builders import make_account, make_town
from .dashboard_builders import make_campaign


def form(**overrides) -> dict:
    data = {"name": "2017 采集", "start_date": "2017-04-01", "end_date": "2017-07-31",
            "phases-0-name": "一", "phases-0-start_date": "2017-04-10", "phases-0-end_date": "2017-05-31",
            "phases-0-target_percent": "60", "phases-1-name": "二", "phases-1-start_date": "2017-06-01",
            "phases-1-end_date": "2017-06-30", "phases-1-target_percent": "100"}
    data.update(overrides)
    return data


def test_admin_creates_a_campaign_with_phases(ctx, login):
    town, villages = make_town()
    admin = login(make_account(town, "admin"))
    response = admin.post("/admin/campaigns/new", data=form())
    assert response.status_code == 303
    campaign = db.session.scalar(select(Campaign))
    assert [(p.name, p.start_date, p.end_date, float(p.target_share)) for p in campaign.phases] == [
        ("一", date(2017, 4, 10), date(2017, 5, 31), 0.6), ("二", date(2017, 6, 1), date(2017, 6, 30), 1.0)]
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "campaign.save")) == 1
    # Every village's dashboards refetch: statuses depend on the phases.
    assert db.session.scalar(select(func.count()).select_from(DashboardEvent)) == len(villages)
    assert "2017 采集" in admin.get("/admin/campaigns").text


def test_bad_phases_come_back_with_the_input_kept(ctx, login):
    town, _villages = make_town()
    admin = login(make_account(town, "admin"))
    response = admin.post("/admin/campaigns/new", data=form(**{
        "phases-1-start_date": "2017-05-20", "phases-1-target_percent": "50", "phases-0-end_date": "2017-08-30"}))
    assert response.status_code == 422
    text = response.text
    # Chinese is the default UI language: the messages as the catalog says them.
    assert "本阶段必须在上一阶段最后一天之后开始" in text
    assert "本阶段必须在专项行动的起止日期之内" in text
    assert "本阶段的目标必须高于上一阶段" in text
    assert 'value="2017-05-20"' in text and 'value="50"' in text  # what was typed is still there
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_half_filled_phase_row_is_an_error_and_empty_rows_are_ignored(ctx, login):
    town, _villages = make_town()
    admin = login(make_account(town, "admin"))
    response = admin.post("/admin/campaigns/new", data=form(**{"phases-2-name": "三"}))
    assert response.status_code == 422 and "请填写阶段的每一项，或整行留空" in response.text
    no_phase = {k: v for k, v in form().items() if not k.startswith("phases-")}
    response = admin.post("/admin/campaigns/new", data=no_phase)
    assert response.status_code == 422 and "请至少添加一个阶段" in response.text


def test_edit_replaces_the_phases_and_shows_the_current_ones(ctx, login):
    town, _villages = make_town()
    campaign = make_campaign(town)
    admin = login(make_account(town, "admin"))
    page = admin.get(f"/admin/campaigns/{campaign.id}")
    assert page.status_code == 200 and 'value="2016-05-25"' in page.text and 'value="60.00"' in page.text
    response = admin.post(f"/admin/campaigns/{campaign.id}", data=form(
        start_date="2016-04-10", end_date="2016-10-31", **{
            "phases-0-start_date": "2016-04-27", "phases-0-end_date": "2016-05-20", "phases-0-target_percent": "50",
            "phases-1-start_date": "2016-05-21", "phases-1-end_date": "2016-06-30"}))
    assert response.status_code == 303
    db.session.expire_all()
    phases = db.session.get(Campaign, campaign.id).phases
    assert [(p.end_date, float(p.target_share)) for p in phases] == [(date(2016, 5, 20), 0.5), (date(2016, 6, 30), 1.0)]


def test_another_towns_campaign_is_not_found(ctx, login):
    from tests.builders import make_other_town
    town, _villages = make_town()
    other, _far = make_other_town()
    theirs = make_campaign(other)
    admin = login(make_account(town, "admin"))
    assert admin.get(f"/admin/campaigns/{theirs.id}").status_code == 404
    assert admin.post(f"/admin/campaigns/{theirs.id}", data=form()).status_code == 404
    assert "2016 采集" not in admin.get("/admin/campaigns").text
