"""Admin pages for campaigns: list, create, edit dates and phase targets. Thin: the checks are
rules.phases; saving tells every open dashboard of the town to refetch (statuses depend on it)."""
from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, DecimalField, FieldList, Form, FormField, StringField
from wtforms.validators import DataRequired, Length, Optional

from .. import changefeed, scope
from ..extensions import db
from ..audit import audit
from ..models import Campaign, Phase, Village
from ..rules import phases as rules

bp = Blueprint("campaigns", __name__, url_prefix="/admin/campaigns")

PHASE_ROWS = 4  # the form always offers this many phase rows (blank rows are ignored)

MESSAGES = {
    rules.CAMPAIGN_ENDS_BEFORE_START: _l("The campaign must end on or after its start date."),
    rules.NO_PHASES: _l("Add at least one phase: a name, its dates and its target."),
    rules.PHASE_ENDS_BEFORE_START: _l("This phase must end on or after its start date."),
    rules.PHASE_OUTSIDE_CAMPAIGN: _l("This phase must lie within the campaign's dates."),
    rules.PHASES_OVERLAP: _l("This phase must start after the previous phase's last day."),
    rules.SHARE_OUT_OF_RANGE: _l("Enter a target between 1 and 100 (percent of the quota)."),
    rules.SHARE_NOT_INCREASING: _l("Targets add up: this phase's target must be higher than the previous phase's."),
}


class PhaseForm(Form):
    name = StringField(_l("Phase name"), validators=[Optional(), Length(max=64)])
    start_date = DateField(_l("First day"), validators=[Optional()])
    end_date = DateField(_l("Last day"), validators=[Optional()])
    target_percent = DecimalField(_l("Target by the last day (percent of the quota, cumulative)"), places=2,
                                  validators=[Optional()])

    def is_blank(self) -> bool:
        return not any((self.name.data, self.start_date.data, self.end_date.data,
                        self.target_percent.data is not None))

    def missing(self) -> list:
        return [f for f in (self.name, self.start_date, self.end_date) if not f.data] + (
            [self.target_percent] if self.target_percent.data is None else [])


class CampaignForm(FlaskForm):
    name = StringField(_l("Campaign name"), validators=[DataRequired(_l("Enter the campaign's name.")),
                                                        Length(max=128)])
    start_date = DateField(_l("Campaign starts"), validators=[DataRequired(_l("Enter a date."))])
    end_date = DateField(_l("Campaign ends"), validators=[DataRequired(_l("Enter a date."))])
    phases = FieldList(FormField(PhaseForm), min_entries=PHASE_ROWS, max_entries=PHASE_ROWS)

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        filled = [p for p in self.phases if not p.form.is_blank()]
        for entry in filled:
            for f in entry.form.missing():
                f.errors = list(f.errors) + [_("Fill in every field of a phase, or leave the whole row empty.")]
                ok = False
        if not ok or not self.start_date.data or not self.end_date.data:
            return False
        drafts = sorted(((p, rules.Draft(p.form.name.data, p.form.start_date.data, p.form.end_date.data,
                                         Decimal(p.form.target_percent.data) / 100)) for p in filled),
                        key=lambda pair: pair[1].start)
        for index, field, code in rules.check(self.start_date.data, self.end_date.data, [d for _p, d in drafts]):
            target = self if index is None else drafts[index][0].form
            f = getattr(target, field, None) if field != "phases" else None
            if f is None:
                self.form_errors.append(str(MESSAGES[code]))
            else:
                f.errors = list(f.errors) + [str(MESSAGES[code])]
        self.drafts = [d for _p, d in drafts]
        return not self.form_errors and not any(
            f.errors for entry in self.phases for f in entry.form) and not self.end_date.errors


def _campaign_or_404(campaign_id: int) -> Campaign:
    campaign = db.session.get(Campaign, scope.key_or_404(campaign_id))
    if campaign is None or campaign.town_id != current_user.town_id:
        abort(404)
    return campaign


def _save(form: CampaignForm, campaign: Campaign) -> None:
    campaign.name = form.name.data
    campaign.start_date, campaign.end_date = form.start_date.data, form.end_date.data
    campaign.phases = [Phase(name=d.name, start_date=d.start, end_date=d.end, target_share=d.share)
                       for d in form.drafts]
    db.session.flush()
    # Phase targets decide which villages count as behind: who changed them is kept.
    audit(current_user.id, "campaign.save", f"campaigns:{campaign.id}")
    # Statuses and targets depend on the phases: every open dashboard of the town refetches.
    for village_id in db.session.scalars(select(Village.id).where(Village.town_id == current_user.town_id)):
        changefeed.note_village_changed(village_id, "campaign")
    db.session.commit()


@bp.get("")
@scope.require("campaigns.manage")
def index():
    listed = db.session.scalars(select(Campaign).where(Campaign.town_id == current_user.town_id)
                                .order_by(Campaign.start_date.desc()))
    return render_template("campaigns/list.html", campaigns=listed)


@bp.route("/new", methods=["GET", "POST"])
@scope.require("campaigns.manage")
def new():
    form = CampaignForm()
    if form.validate_on_submit():
        campaign = Campaign(town_id=current_user.town_id)
        db.session.add(campaign)
        _save(form, campaign)
        flash(_("Campaign saved."), "success")
        return redirect(url_for("campaigns.index"), 303)
    return render_template("campaigns/form.html", form=form, campaign=None), 422 if form.is_submitted() else 200


@bp.route("/<int:campaign_id>", methods=["GET", "POST"])
@scope.require("campaigns.manage")
def edit(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    form = CampaignForm(obj=campaign)
    if not form.is_submitted():
        for entry, phase in zip(form.phases, campaign.phases):
            entry.form.name.data, entry.form.start_date.data = phase.name, phase.start_date
            entry.form.end_date.data, entry.form.target_percent.data = phase.end_date, phase.target_share * 100
    if form.validate_on_submit():
        _save(form, campaign)
        flash(_("Campaign saved."), "success")
        return redirect(url_for("campaigns.index"), 303)
    status = 422 if form.is_submitted() else 200
    return render_template("campaigns/form.html", form=form, campaign=campaign), status
