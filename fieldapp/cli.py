"""`flask --app fieldapp ...` commands: set up, load the demo, manage collection IDs, repair counters."""
from __future__ import annotations

from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade
from sqlalchemy import func, select, text

from . import accounts, audit, demo, records
from .config import check_audit_retention
from .extensions import db
from .flags import detect as flag_detect
from .models import Account, Town, Village, utcnow
from .models.review import Flag
from .rules.identifiers import IdentifierError, validate_mobile
from .rules.permissions import ROLES


@click.command("setup")
@click.option("--demo/--no-demo", "with_demo", default=True, help="Load the Yuping 2016 demo into an empty database.")
@with_appcontext
def setup_command(with_demo):
    """Create or upgrade the database schema; load the demo if the database is empty."""
    upgrade()
    if with_demo and db.session.scalar(select(Town.id)) is None:
        _load_demo()
    else:
        click.echo("Database is up to date.")
        if db.session.scalar(select(Town.id)) is None:
            click.echo("No town yet: `flask --app fieldapp town import town.xlsx` (docs/town-workbook.md) or "
                       "`flask --app fieldapp town create --name NAME --code CODE` (README: Start your own town).")


DEMO_SWEEP_DAYS = 60  # the demo's pending slice is collected in the last 10 days


def _load_demo():
    logins = demo.load()
    db.session.commit()
    # The demo's fabrication flags on what waits at the desk (demo.py sits below flags in the layers).
    # Its 2016 history is approved already: sweeping 45,000 changes would take minutes for nothing a
    # reviewer acts on; `flags scan` does that for a real town.
    flag_detect.sweep(since=utcnow() - timedelta(days=DEMO_SWEEP_DAYS))
    click.echo("Loaded the Yuping 2016 demo. Demo sign-ins (collection ID / PIN):")
    for cid, role, where in logins:
        click.echo(f"  {cid:8}  {demo.DEMO_PIN}   {role:12} {where}")


@click.command("demo")
@with_appcontext
def demo_command():
    """Load the Yuping 2016 demo into an empty, migrated database."""
    if db.session.scalar(select(Town.id)) is not None:
        raise click.ClickException("The database already has a town; the demo loads only into an empty one.")
    _load_demo()


@click.command("issue-id")
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--village", "village_names", multiple=True, help="Village name; repeat for several.")
@click.option("--valid-until", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
@click.option("--phone", default=None, help="The holder's mainland mobile number (shown masked in lists).")
@with_appcontext
def issue_id_command(name, role, village_names, valid_until, phone):
    """Issue a collection ID and print its one-time activation code."""
    town = db.session.scalar(select(Town))
    if town is None:
        raise click.ClickException("No town yet: set one up with `flask --app fieldapp town import town.xlsx` or "
                                   "`town create` (README: Start your own town), or load the demo with "
                                   "`flask --app fieldapp setup`.")
    if phone:
        try:
            phone = validate_mobile(phone)
        except IdentifierError as error:
            raise click.ClickException(error.message("en")) from None
    villages = list(db.session.scalars(select(Village).where(Village.name.in_(village_names))))
    missing = set(village_names) - {v.name for v in villages}
    if missing:
        raise click.ClickException(f"Unknown village(s): {', '.join(sorted(missing))}")
    if role not in ("admin", "supervisor") and not villages:
        raise click.ClickException(f"A {role} needs at least one --village.")
    account, code = accounts.issue(town.id, name, role, [v.id for v in villages], None,
                                   valid_until.date() if valid_until else None, town.office)
    account.phone = phone or None
    db.session.commit()
    hours = current_app.config["ACTIVATION_HOURS"]
    click.echo(f"{account.collection_id}  activation code {code}  (valid {hours} hours, once)")


@click.command("revoke-id")
@click.argument("collection_id")
@click.option("--reason", required=True)
@with_appcontext
def revoke_id_command(collection_id, reason):
    """Revoke a collection ID at once."""
    account = db.session.scalar(select(Account).where(
        Account.collection_id == accounts.normalise_collection_id(collection_id)))
    if account is None:
        raise click.ClickException(f"No collection ID {collection_id}.")
    if account.revoked_at is not None:
        raise click.ClickException(f"{account.collection_id} is already revoked.")
    accounts.revoke(account, None, reason)
    db.session.commit()
    click.echo(f"{account.collection_id} revoked.")


@click.command("recount")
@with_appcontext
def recount_command():
    """Rebuild the progress counters from the records and report any that had drifted."""
    from .models import VillageCounter
    before = {c.village_id: (c.people, c.houses, c.orgs) for c in db.session.scalars(select(VillageCounter))}
    after = records.recount()
    db.session.commit()
    drifted = {vid for vid, counts in after.items() if before.get(vid) != counts}
    click.echo(f"Recounted {len(after)} villages; {len(drifted)} had drifted.")


@click.command("prune-sign-ins")
@with_appcontext
def prune_sign_ins_command():
    """Delete sign-in counters whose window ended and sessions ended more than SESSION_KEEP_DAYS ago."""
    sessions, counters = accounts.prune_sign_ins()
    db.session.commit()
    click.echo(f"Deleted {sessions} old session(s) and {counters} sign-in counter(s).")


from .backup.cli import backup_command, restore_command  # noqa: E402  (the commands live with their area)
from .doors.cli import doors_group, import_houses_command  # noqa: E402  (the command lives with its area)
from .imports.cli import commands as register_import_commands  # noqa: E402
from .prints.cli import print_archive_command  # noqa: E402
from .roster.cli import issue_ids_command  # noqa: E402
from .townsetup.cli import town_group  # noqa: E402

@click.group("audit")
def audit_group():
    """The audit log: verify its hash chain, prune old rows, the PostgreSQL grants of the app's role."""


@audit_group.command("verify")
@click.option("--expect-head", default=None, metavar="SEQ:HASH",
              help="A head printed by an earlier verify: it must still be in the chain (catches deleted newest rows).")
@with_appcontext
def audit_verify_command(expect_head):
    """Check the chain; name the first row changed, deleted or inserted out of order (exit 1)."""
    expected = None
    if expect_head:
        seq, _sep, digest = expect_head.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise click.BadParameter("SEQ:HASH, as verify printed it", param_hint="--expect-head")
        expected = (int(seq), digest)
    verdict = audit.verify(expect_head=expected)
    db.session.rollback()
    click.echo(verdict.message())
    if not verdict.ok:
        raise SystemExit(1)


@audit_group.command("prune")
@with_appcontext
def audit_prune_command():
    """Delete audit rows older than AUDIT_RETENTION_DAYS (at least 183); log the pruning. On
    PostgreSQL run it with the tables' owner's database URL: the app's role may not delete."""
    days = check_audit_retention(current_app.config)
    deleted = audit.prune(days)
    db.session.commit()
    click.echo(f"Deleted {deleted} audit rows older than {days} days.")


@audit_group.command("grants")
@click.option("--role", required=True, help="The PostgreSQL role the app connects as (not the tables' owner).")
@click.option("--apply", "apply_now", is_flag=True, help="Run the statements (as the owner) instead of printing them.")
@with_appcontext
def audit_grants_command(role, apply_now):
    """The GRANT/REVOKE statements that let the app's role insert audit rows but never change or
    delete them."""
    statements = audit.grant_statements(role)
    if not apply_now:
        click.echo(";\n".join(statements) + ";")
        return
    if db.engine.dialect.name != "postgresql":
        raise click.ClickException("Grants apply to PostgreSQL only.")
    owner = db.session.scalar(text("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_events'"))
    if owner == role:
        raise click.ClickException(f"{role} owns the tables: an owner keeps every privilege. Run the app as another role.")
    for statement in statements:
        db.session.execute(text(statement))
    db.session.commit()
    click.echo(f"Applied {len(statements)} statements for {role}.")


@click.group("flags")
def flags_group():
    """Fabrication flags (rules/fabrication.py)."""


@flags_group.command("scan")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Only changes collected (and tips verified) from this day (UTC); default: everything.")
@with_appcontext
def flags_scan_command(since):
    """Run every fabrication detector over the collected changes and verified tips and raise the
    missing flags (idempotent: flags already raised are kept as they are)."""
    found = flag_detect.sweep(since)
    click.echo(f"Fabrication checks done: {found} findings offered, "
               f"{db.session.scalar(select(func.count(Flag.id)))} flags in all.")


commands = [setup_command, flags_group, demo_command, issue_id_command, revoke_id_command, recount_command, prune_sign_ins_command,
            import_houses_command, doors_group, audit_group, town_group, issue_ids_command, print_archive_command,
            *register_import_commands, backup_command, restore_command]
