"""Builders for tips, visits and badges tests (tips_*, badges_*, and the permission matrix)."""
from __future__ import annotations

from datetime import datetime, timedelta

from fieldapp.extensions import db
from fieldapp.models import Tip, Visit, utcnow
from fieldapp.rules import tips as rules


def make_tip(village, house=None, informant=None, state: str = "new", received_at: datetime | None = None,
             assigned_to=None, kind: str = "move_in", source: str | None = None, **fields) -> Tip:
    """A tip as if it had arrived at `received_at` (default: now), in `state`. Moves are written
    directly, not through the service: tests of the service build their own."""
    received_at = received_at or utcnow()
    if state in ("valid", "invalid"):
        fields.setdefault("verdict", state)
    tip = Tip(village_id=village.id, house_id=house.id if house else None, kind=kind,
              source=source or ("informant" if informant else "public"),
              informant_id=informant.id if informant else None,
              contact_phone=None if informant else fields.pop("contact_phone", "13912345678"),
              submitted_at=received_at, received_at=received_at, due_on=rules.due_on(received_at),
              state=state, assigned_to_id=assigned_to.id if assigned_to else None,
              assigned_at=received_at if assigned_to else None, **fields)
    db.session.add(tip)
    db.session.commit()
    return tip


def make_visit(house, account, at: datetime | None = None, method: str = "scan") -> Visit:
    visit = Visit(house_id=house.id, village_id=house.village_id, account_id=account.id, method=method,
                  at=at or utcnow() + timedelta(seconds=1))
    db.session.add(visit)
    db.session.commit()
    return visit


def tiny_jpeg(size=(40, 30), exif_gps: bool = False) -> bytes:
    """A small valid JPEG, optionally with EXIF data that re-encoding must drop."""
    import io

    from PIL import Image
    image = Image.new("RGB", size, (200, 30, 30))
    out = io.BytesIO()
    if exif_gps:
        exif = Image.Exif()
        exif[0x010F] = "PhoneMaker"  # Make
        exif[0x8825] = {2: (30.0, 0.0, 0.0)}  # GPSInfo: latitude
        image.save(out, format="JPEG", exif=exif)
    else:
        image.save(out, format="JPEG")
    return out.getvalue()


# --- the permission matrix (tests/test_permissions.py) -------------------------------------------

def add_tip_targets(world) -> None:
    """Give each matrix target (own / west / town2) tips in each state the routes act on, a visit
    by the world's collector to the own door (so verifying the own assigned tip can succeed for
    that collector), the door's public token, and a badge token for the target account."""
    from fieldapp.models import Account, House, Village

    collector = db.session.get(Account, world.ids["collector"])
    for key in ("own", "west", "town2"):
        target = world.targets[key]
        village, house = db.session.get(Village, target.village), db.session.get(House, target.house)
        worker = collector if key == "own" else None
        target.tip = make_tip(village, house).id
        target.tip_assigned = make_tip(village, house, state="assigned", assigned_to=worker).id
        target.tip_verified = make_tip(village, house, state="valid").id
        target.door_token = house.door_token
        target.worker = collector.id
        if worker is not None:
            make_visit(house, worker)
        # Badges: the own collector (the account target itself is revoked by an earlier row) and
        # the other town's collector.
        holder = {"own": world.ids["collector"], "town2": target.account}.get(key)
        if holder is not None:
            account = db.session.get(Account, holder)
            account.badge_token = f"badge-{key}-token-0123456789abcdef"
            target.badge_account, target.badge_token = holder, account.badge_token
    db.session.commit()


def matrix_url_args(endpoint: str, target) -> dict | None:
    """URL arguments of the tips and badges routes for a matrix target (None: not one of ours)."""
    args = {
        "tips.tip": {"tip_id": target.tip}, "tips.take": {"tip_id": target.tip},
        "tips.assign": {"tip_id": target.tip}, "tips.photo": {"tip_id": target.tip},
        "tips.verify": {"tip_id": target.tip_assigned}, "tips.close": {"tip_id": target.tip_verified},
        "tips.public_tip": {"token": target.door_token},
        "badges.badge": {"account_id": target.badge_account}, "badges.issue": {"account_id": target.badge_account},
        "badges.upload_photo": {"account_id": target.badge_account},
        "badges.validity": {"account_id": target.badge_account},
        "badges.photo": {"account_id": target.badge_account},
        "badges.verify": {"token": target.badge_token},
    }
    return args.get(endpoint)


def matrix_post_data(endpoint: str, target) -> dict | None:
    """A valid post for the tips routes (the badge portrait post carries no file: 422, writes nothing)."""
    if endpoint == "tips.new":
        return {"door_code": target.code, "kind": "move_in"}
    if endpoint == "tips.assign":
        return {"worker": str(target.worker)}
    if endpoint == "tips.verify":
        return {"outcome": "valid"}
    if endpoint == "tips.public_tip":
        return {"kind": "move_in", "contact_phone": "13912345678"}
    if endpoint == "badges.validity":
        from datetime import date, timedelta
        return {"valid_from": "", "valid_until": (date.today() + timedelta(days=365)).isoformat()}
    return None
