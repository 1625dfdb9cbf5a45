"""The permission matrix over HTTP: every role (and a visitor who is not signed in) against every
route of the app, with records in the role's own village, in another village of the same town, in
another town, and a person from abroad (police only).

MATRIX below is the table of expected answers. It is checked against app.url_map, so a new route
(or a new method on a route) without a row makes test_matrix_covers_every_route fail.

Status legend: 200 page, 302/303 redirect, 403 the role lacks the permission, 404 the record is
outside the role's scope (the same answer as a record that does not exist), 405 method not allowed,
409 already done, 422 form re-shown with errors, LOGIN = 302 to /login (not signed in).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest
from flask import url_for
from sqlalchemy import func, select

from fieldapp import accounts, records
from fieldapp.extensions import db
from fieldapp.models import (Account, AuditEvent, Change, Conflict, House, MoveRequest, Organisation, Person)
from fieldapp.rules.identifiers import mask_id
from fieldapp.rules.permissions import ROLES, is_town_wide

from .builders import db_state, make_account, make_other_town, make_house, make_person, make_town, resident_id, send
from .desk_builders import add_desk_targets, matrix_post_data as desk_post_data, matrix_url_args as desk_url_args
from .dups_builders import add_merge_targets, matrix_url_args as merge_url_args
from .doors_builders import matrix_post_data as doors_post_data, matrix_url_args as doors_url_args
from .flags_builders import (add_flag_targets, matrix_post_data as flags_post_data,
                             matrix_url_args as flags_url_args)
from .photo_builders import add_photo_targets, matrix_url_args as photo_url_args
from .prints_builders import add_print_targets, matrix_url_args as prints_url_args
from .register_builders import matrix_post_data as imports_post_data, matrix_url_args as imports_url_args
from .roster_builders import (add_roster_targets, matrix_post_data as roster_post_data,
                              matrix_url_args as roster_url_args)
from .tips_builders import add_tip_targets, matrix_post_data, matrix_url_args
from .townsetup_builders import (add_townsetup_targets, matrix_post_data as town_post_data,
                                 matrix_url_args as town_url_args)

LOGIN = "login"  # 302 to the sign-in page
COLUMNS = ROLES + ("anon",)
assert ROLES == ("admin", "supervisor", "village_head", "reviewer", "collector", "police", "informant"), \
    "ROLES changed: update the columns of MATRIX"

# Targets: "own" = a record in the account's village (東村, the only village on a village-level ID;
# for the town-wide roles it is simply a village of their town); "west" = another village of the
# same town; "town2" = a village of another town; "abroad" = a person from abroad living in the own
# village (police only); "-" = the route takes no record.
#
#  endpoint                          method  target      admin  super  vhead  review collect police inform anon
MATRIX = [
    ("static",                       "GET",  "-",       (200,   200,   200,   200,   200,    200,   200,   200)),
    ("auth.login",                   "GET",  "-",       (200,   200,   200,   200,   200,    200,   200,   200)),
    ("auth.activate",                "GET",  "-",       (200,   200,   200,   200,   200,    200,   200,   200)),
    ("auth.home",                    "GET",  "-",       (302,   302,   302,   302,   302,    302,   200,   LOGIN)),
    ("registry.villages",            "GET",  "-",       (403,   200,   302,   302,   302,    302,   403,   LOGIN)),
    ("registry.houses",              "GET",  "own",     (403,   200,   200,   200,   200,    200,   403,   LOGIN)),
    ("registry.houses",              "GET",  "west",    (403,   200,   404,   404,   404,    404,   403,   LOGIN)),
    ("registry.houses",              "GET",  "town2",   (403,   404,   404,   404,   404,    404,   403,   LOGIN)),
    ("registry.find",                "GET",  "own",     (403,   302,   302,   302,   302,    302,   403,   LOGIN)),
    ("registry.find",                "GET",  "west",    (403,   302,   303,   303,   303,    303,   403,   LOGIN)),
    ("registry.find",                "GET",  "town2",   (403,   303,   303,   303,   303,    303,   403,   LOGIN)),
    ("registry.house",               "GET",  "own",     (403,   200,   200,   200,   200,    200,   403,   LOGIN)),
    ("registry.house",               "GET",  "west",    (403,   200,   404,   404,   404,    404,   403,   LOGIN)),
    ("registry.house",               "GET",  "town2",   (403,   404,   404,   404,   404,    404,   403,   LOGIN)),
    ("registry.new_house",           "GET",  "own",     (403,   403,   403,   200,   200,    200,   403,   LOGIN)),
    ("registry.new_house",           "GET",  "west",    (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.new_house",           "GET",  "town2",   (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.edit_house",          "GET",  "own",     (403,   403,   403,   200,   200,    200,   403,   LOGIN)),
    ("registry.edit_house",          "GET",  "west",    (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.edit_house",          "GET",  "town2",   (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.new_person",          "GET",  "own",     (403,   403,   403,   200,   200,    200,   403,   LOGIN)),
    ("registry.new_person",          "GET",  "west",    (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.new_person",          "GET",  "town2",   (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.person",              "GET",  "own",     (403,   200,   200,   200,   200,    200,   403,   LOGIN)),
    ("registry.person",              "GET",  "west",    (403,   200,   404,   404,   404,    404,   403,   LOGIN)),
    ("registry.person",              "GET",  "town2",   (403,   404,   404,   404,   404,    404,   403,   LOGIN)),
    ("registry.person",              "GET",  "abroad",  (403,   404,   404,   404,   404,    200,   403,   LOGIN)),
    ("registry.reveal",              "GET",  "own",     (405,   405,   405,   405,   405,    405,   405,   405)),
    ("registry.edit_person",         "GET",  "own",     (403,   403,   403,   200,   200,    200,   403,   LOGIN)),
    ("registry.edit_person",         "GET",  "west",    (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.edit_person",         "GET",  "town2",   (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.edit_person",         "GET",  "abroad",  (403,   403,   403,   404,   404,    200,   403,   LOGIN)),
    ("registry.leave",               "GET",  "own",     (403,   403,   403,   200,   200,    200,   403,   LOGIN)),
    ("registry.leave",               "GET",  "west",    (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.leave",               "GET",  "town2",   (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.leave",               "GET",  "abroad",  (403,   403,   403,   404,   404,    200,   403,   LOGIN)),
    ("registry.new_organisation",    "GET",  "own",     (403,   403,   403,   200,   200,    200,   403,   LOGIN)),
    ("registry.new_organisation",    "GET",  "west",    (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.new_organisation",    "GET",  "town2",   (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.edit_organisation",   "GET",  "own",     (403,   403,   403,   200,   200,    200,   403,   LOGIN)),
    ("registry.edit_organisation",   "GET",  "west",    (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.edit_organisation",   "GET",  "town2",   (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.close_organisation",  "GET",  "own",     (403,   403,   403,   200,   200,    200,   403,   LOGIN)),
    ("registry.close_organisation",  "GET",  "west",    (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.close_organisation",  "GET",  "town2",   (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("progress.overview",            "GET",  "-",       (200,   200,   200,   200,   403,    200,   403,   LOGIN)),
    ("progress.village",             "GET",  "own",     (200,   200,   200,   200,   403,    200,   403,   LOGIN)),
    ("progress.village",             "GET",  "west",    (200,   200,   404,   404,   403,    404,   403,   LOGIN)),
    ("progress.village",             "GET",  "town2",   (404,   404,   404,   404,   403,    404,   403,   LOGIN)),
    ("progress.figures",             "GET",  "-",       (200,   200,   200,   200,   403,    200,   403,   LOGIN)),
    ("progress.panels",              "GET",  "-",       (200,   200,   200,   200,   403,    200,   403,   LOGIN)),
    ("progress.events",              "GET",  "-",       (200,   200,   200,   200,   403,    200,   403,   LOGIN)),
    ("progress.late",                 "GET",  "own",     (200,   200,   200,   200,   403,    403,   403,   LOGIN)),
    ("progress.late",                 "GET",  "west",    (200,   200,   404,   404,   403,    403,   403,   LOGIN)),
    ("progress.late",                 "GET",  "town2",   (404,   404,   404,   404,   403,    403,   403,   LOGIN)),
    ("progress.throughput",           "GET",  "own",     (200,   200,   200,   200,   403,    403,   403,   LOGIN)),
    ("progress.throughput",           "GET",  "west",    (200,   200,   404,   404,   403,    403,   403,   LOGIN)),
    ("progress.throughput",           "GET",  "town2",   (404,   404,   404,   404,   403,    403,   403,   LOGIN)),
    ("progress.throughput_file",      "GET",  "own",     (200,   200,   200,   200,   403,    403,   403,   LOGIN)),
    ("progress.throughput_file",      "GET",  "west",    (200,   200,   404,   404,   403,    403,   403,   LOGIN)),
    ("progress.throughput_file",      "GET",  "town2",   (404,   404,   404,   404,   403,    403,   403,   LOGIN)),
    ("campaigns.index",              "GET",  "-",       (200,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("campaigns.new",                "GET",  "-",       (200,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("campaigns.edit",               "GET",  "own",     (200,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("campaigns.edit",               "GET",  "town2",   (404,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("maps.page",                    "GET",  "-",       (200,   200,   200,   200,   403,    200,   403,   LOGIN)),
    ("maps.points",                  "GET",  "-",       (200,   200,   200,   200,   403,    200,   403,   LOGIN)),
    ("maps.house",                   "GET",  "own",     (200,   200,   200,   200,   403,    200,   403,   LOGIN)),
    ("maps.house",                   "GET",  "west",    (200,   200,   404,   404,   403,    404,   403,   LOGIN)),
    ("maps.house",                   "GET",  "town2",   (404,   404,   404,   404,   403,    404,   403,   LOGIN)),
    ("admin.accounts_page",          "GET",  "-",       (200,   403,   403,   403,   403,    403,   403,   LOGIN)),
    # The audit log (audit.view: admin, supervisor), filtered by a person: the person must be in the
    # viewer's scope (another town's, or one from abroad: 404), as on the person's own page.
    ("auditlog.index",               "GET",  "own",     (200,   200,   403,   403,   403,    403,   403,   LOGIN)),
    ("auditlog.index",               "GET",  "west",    (200,   200,   403,   403,   403,    403,   403,   LOGIN)),
    ("auditlog.index",               "GET",  "town2",   (404,   404,   403,   403,   403,    403,   403,   LOGIN)),
    ("auditlog.index",               "GET",  "abroad",  (404,   404,   403,   403,   403,    403,   403,   LOGIN)),
    ("auditlog.export",              "GET",  "own",     (200,   200,   403,   403,   403,    403,   403,   LOGIN)),
    ("auditlog.export",              "GET",  "town2",   (404,   404,   403,   403,   403,    403,   403,   LOGIN)),
    ("admin.issue",                  "GET",  "-",       (200,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("admin.revoke",                 "GET",  "own",     (405,   405,   405,   405,   405,    405,   405,   405)),
    # POST: a valid submission, so every "yes" below really writes and every "no" writes nothing.
    ("auth.login",                   "POST", "-",       (422,   422,   422,   422,   422,    422,   422,   422)),
    ("auth.activate",                "POST", "-",       (422,   422,   422,   422,   422,    422,   422,   422)),
    ("auth.language",                "POST", "-",       (303,   303,   303,   303,   303,    303,   303,   303)),
    ("registry.new_house",           "POST", "own",     (403,   403,   403,   303,   303,    303,   403,   LOGIN)),
    ("registry.new_house",           "POST", "west",    (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.new_house",           "POST", "town2",   (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.edit_house",          "POST", "own",     (403,   403,   403,   303,   303,    303,   403,   LOGIN)),
    ("registry.edit_house",          "POST", "west",    (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.edit_house",          "POST", "town2",   (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.new_person",          "POST", "own",     (403,   403,   403,   303,   303,    303,   403,   LOGIN)),
    ("registry.new_person",          "POST", "west",    (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.new_person",          "POST", "town2",   (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.reveal",              "POST", "own",     (403,   200,   200,   200,   200,    200,   403,   LOGIN)),
    ("registry.reveal",              "POST", "west",    (403,   200,   404,   404,   404,    404,   403,   LOGIN)),
    ("registry.reveal",              "POST", "town2",   (403,   404,   404,   404,   404,    404,   403,   LOGIN)),
    ("registry.reveal",              "POST", "abroad",  (403,   404,   404,   404,   404,    200,   403,   LOGIN)),
    ("registry.edit_person",         "POST", "own",     (403,   403,   403,   303,   303,    303,   403,   LOGIN)),
    ("registry.edit_person",         "POST", "west",    (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.edit_person",         "POST", "town2",   (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.edit_person",         "POST", "abroad",  (403,   403,   403,   404,   404,    303,   403,   LOGIN)),
    ("registry.leave",               "POST", "own",     (403,   403,   403,   303,   303,    303,   403,   LOGIN)),
    ("registry.leave",               "POST", "west",    (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.leave",               "POST", "town2",   (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.leave",               "POST", "abroad",  (403,   403,   403,   404,   404,    303,   403,   LOGIN)),
    ("registry.new_organisation",    "POST", "own",     (403,   403,   403,   303,   303,    303,   403,   LOGIN)),
    ("registry.new_organisation",    "POST", "west",    (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.new_organisation",    "POST", "town2",   (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.edit_organisation",   "POST", "own",     (403,   403,   403,   303,   303,    303,   403,   LOGIN)),
    ("registry.edit_organisation",   "POST", "west",    (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.edit_organisation",   "POST", "town2",   (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.close_organisation",  "POST", "own",     (403,   403,   403,   303,   303,    303,   403,   LOGIN)),
    ("registry.close_organisation",  "POST", "west",    (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("registry.close_organisation",  "POST", "town2",   (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("admin.issue",                  "POST", "-",       (200,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("admin.reissue_activation",     "POST", "own",     (200,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("admin.reissue_activation",     "POST", "town2",   (404,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("admin.revoke",                 "POST", "own",     (303,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("admin.revoke",                 "POST", "town2",   (404,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("campaigns.new",                "POST", "-",       (303,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("campaigns.edit",               "POST", "own",     (303,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("campaigns.edit",               "POST", "town2",   (404,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("auth.logout",                  "POST", "-",       (303,   303,   303,   303,   303,    303,   303,   LOGIN)),
    # The phone's API (/api/): JSON, 401 instead of a redirect; bearer-token routes refuse a cookie.
    ("api.ping",                     "GET",  "-",       (204,   204,   204,   204,   204,    204,   204,   204)),
    ("api.openapi",                  "GET",  "-",       (200,   200,   200,   200,   200,    200,   200,   200)),
    ("api.session_state",            "GET",  "-",       (200,   200,   200,   200,   200,    200,   200,   200)),
    ("api.register_device",          "POST", "-",       (403,   403,   403,   201,   201,    201,   201,   401)),
    ("api.package",                  "GET",  "-",       (401,   401,   401,   401,   401,    401,   401,   401)),
    ("api.push",                     "POST", "-",       (401,   401,   401,   401,   401,    401,   401,   401)),
    ("api.photo_status",             "GET",  "-",       (401,   401,   401,   401,   401,    401,   401,   401)),
    # The installable app: shell, manifest and service worker hold no personal data and must load
    # for anyone (the shell itself asks the API who is signed in).
    ("pwa.shell",                    "GET",  "-",       (200,   200,   200,   200,   200,    200,   200,   200)),
    ("pwa.manifest",                 "GET",  "-",       (200,   200,   200,   200,   200,    200,   200,   200)),
    ("pwa.service_worker",           "GET",  "-",       (200,   200,   200,   200,   200,    200,   200,   200)),
    # Tips (fieldapp/tips): tips.submit = informant, collector, police, village head; tips.work =
    # reviewer, collector, police; tips.oversee = supervisor, village head. The own assigned tip is
    # assigned to the collector, who visited the door: only they may verify it (others: 403).
    ("tips.index",                   "GET",  "-",       (403,   200,   200,   200,   200,    200,   200,   LOGIN)),
    ("tips.new",                     "GET",  "-",       (403,   403,   200,   403,   200,    200,   200,   LOGIN)),
    ("tips.rewards",                 "GET",  "-",       (403,   200,   200,   403,   403,    403,   403,   LOGIN)),
    ("tips.tip",                     "GET",  "own",     (403,   200,   200,   200,   200,    200,   403,   LOGIN)),
    ("tips.tip",                     "GET",  "west",    (403,   200,   404,   404,   404,    404,   403,   LOGIN)),
    ("tips.tip",                     "GET",  "town2",   (403,   404,   404,   404,   404,    404,   403,   LOGIN)),
    ("tips.photo",                   "GET",  "own",     (403,   404,   404,   404,   404,    404,   403,   LOGIN)),
    ("tips.public_tip",              "GET",  "own",     (200,   200,   200,   200,   200,    200,   200,   200)),
    ("tips.take",                    "GET",  "own",     (405,   405,   405,   405,   405,    405,   405,   405)),
    ("tips.new",                     "POST", "own",     (403,   403,   303,   403,   303,    303,   303,   LOGIN)),
    ("tips.new",                     "POST", "west",    (403,   403,   422,   403,   422,    422,   422,   LOGIN)),
    ("tips.take",                    "POST", "own",     (403,   403,   403,   303,   303,    303,   403,   LOGIN)),
    ("tips.take",                    "POST", "west",    (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("tips.take",                    "POST", "town2",   (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("tips.assign",                  "POST", "own",     (403,   303,   303,   403,   403,    403,   403,   LOGIN)),
    ("tips.assign",                  "POST", "west",    (403,   422,   404,   403,   403,    403,   403,   LOGIN)),
    ("tips.assign",                  "POST", "town2",   (403,   404,   404,   403,   403,    403,   403,   LOGIN)),
    ("tips.verify",                  "POST", "own",     (403,   403,   403,   403,   303,    403,   403,   LOGIN)),
    ("tips.verify",                  "POST", "west",    (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("tips.verify",                  "POST", "town2",   (403,   403,   403,   404,   404,    404,   403,   LOGIN)),
    ("tips.close",                   "POST", "own",     (403,   303,   303,   403,   403,    403,   403,   LOGIN)),
    ("tips.close",                   "POST", "west",    (403,   303,   404,   403,   403,    403,   403,   LOGIN)),
    ("tips.close",                   "POST", "town2",   (403,   404,   404,   403,   403,    403,   403,   LOGIN)),
    # Public tips from a door's page: anyone, signed in or not (rate-limited per sender and door).
    ("tips.public_tip",              "POST", "own",     (303,   303,   303,   303,   303,    303,   303,   303)),
    # Badges (fieldapp/badges): admins of the same town; the verification page is public.
    ("badges.index",                 "GET",  "-",       (200,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("badges.badge",                 "GET",  "own",     (200,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("badges.badge",                 "GET",  "town2",   (404,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("badges.photo",                 "GET",  "own",     (404,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("badges.verify",                "GET",  "own",     (200,   200,   200,   200,   200,    200,   200,   200)),
    ("badges.verify",                "GET",  "town2",   (200,   200,   200,   200,   200,    200,   200,   200)),
    ("badges.issue",                 "GET",  "own",     (405,   405,   405,   405,   405,    405,   405,   405)),
    ("badges.issue",                 "POST", "own",     (303,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("badges.issue",                 "POST", "town2",   (404,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("badges.upload_photo",          "POST", "own",     (422,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("badges.upload_photo",          "POST", "town2",   (404,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("badges.validity",              "POST", "own",     (303,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("badges.validity",              "POST", "town2",   (404,   403,   403,   403,   403,    403,   403,   LOGIN)),
    # Door labels (fieldapp/doors): the public door page answers anyone; sheets and labels need
    # doors.print (admin, supervisor, village head), retiring codes and imports doors.manage.
    ("doors.door",                   "GET",  "own",     (200,   200,   200,   200,   200,    200,   200,   200)),
    ("doors.door",                   "GET",  "west",    (200,   200,   200,   200,   200,    200,   200,   200)),
    ("doors.door",                   "GET",  "town2",   (200,   200,   200,   200,   200,    200,   200,   200)),
    ("doors.index",                  "GET",  "-",       (200,   200,   200,   403,   403,    403,   403,   LOGIN)),
    ("doors.village",                "GET",  "own",     (200,   200,   200,   403,   403,    403,   403,   LOGIN)),
    ("doors.village",                "GET",  "west",    (200,   200,   404,   403,   403,    403,   403,   LOGIN)),
    ("doors.village",                "GET",  "town2",   (404,   404,   404,   403,   403,    403,   403,   LOGIN)),
    ("doors.sheet",                  "GET",  "own",     (200,   200,   200,   403,   403,    403,   403,   LOGIN)),
    ("doors.sheet",                  "GET",  "west",    (200,   200,   404,   403,   403,    403,   403,   LOGIN)),
    ("doors.sheet",                  "GET",  "town2",   (404,   404,   404,   403,   403,    403,   403,   LOGIN)),
    ("doors.house",                  "GET",  "own",     (200,   200,   200,   403,   403,    403,   403,   LOGIN)),
    ("doors.house",                  "GET",  "west",    (200,   200,   404,   403,   403,    403,   403,   LOGIN)),
    ("doors.house",                  "GET",  "town2",   (404,   404,   404,   403,   403,    403,   403,   LOGIN)),
    ("doors.qr_png",                 "GET",  "own",     (200,   200,   200,   403,   403,    403,   403,   LOGIN)),
    ("doors.qr_png",                 "GET",  "town2",   (404,   404,   404,   403,   403,    403,   403,   LOGIN)),
    ("doors.qr_svg",                 "GET",  "own",     (200,   200,   200,   403,   403,    403,   403,   LOGIN)),
    ("doors.qr_svg",                 "GET",  "town2",   (404,   404,   404,   403,   403,    403,   403,   LOGIN)),
    ("doors.import_houses",          "GET",  "-",       (200,   200,   403,   403,   403,    403,   403,   LOGIN)),
    ("doors.retire",                 "GET",  "own",     (405,   405,   405,   405,   405,    405,   405,   405)),
    ("doors.retire",                 "POST", "own",     (303,   303,   403,   403,   403,    403,   403,   LOGIN)),
    ("doors.retire",                 "POST", "west",    (303,   303,   403,   403,   403,    403,   403,   LOGIN)),
    ("doors.retire",                 "POST", "town2",   (404,   404,   403,   403,   403,    403,   403,   LOGIN)),
    ("doors.import_houses",          "POST", "-",       (303,   303,   403,   403,   403,    403,   403,   LOGIN)),
    # Blank label stock (doors.labels): doors.print, the account's villages only.
    ("doors.blank_labels",           "GET",  "own",     (200,   200,   200,   403,   403,    403,   403,   LOGIN)),
    ("doors.blank_labels",           "GET",  "town2",   (404,   404,   404,   403,   403,    403,   403,   LOGIN)),
    ("doors.blank_labels_print",     "POST", "own",     (303,   303,   303,   403,   403,    403,   403,   LOGIN)),
    ("doors.blank_labels_print",     "POST", "west",    (303,   303,   404,   403,   403,    403,   403,   LOGIN)),
    ("doors.blank_labels_print",     "POST", "town2",   (404,   404,   404,   403,   403,    403,   403,   LOGIN)),
    ("doors.blank_sheet",            "GET",  "own",     (200,   200,   200,   403,   403,    403,   403,   LOGIN)),
    ("doors.blank_sheet",            "GET",  "town2",   (404,   404,   404,   403,   403,    403,   403,   LOGIN)),
    # Register imports (fieldapp/imports): registers.import = supervisor, reviewer, police (personal
    # data: not admin); the report's token names nobody's report here (404 for those allowed).
    ("imports.upload",               "GET",  "-",       (403,   200,   403,   200,   403,    200,   403,   LOGIN)),
    ("imports.upload",               "POST", "-",       (403,   303,   403,   303,   403,    303,   403,   LOGIN)),
    ("imports.template",             "GET",  "-",       (403,   200,   403,   200,   403,    200,   403,   LOGIN)),
    ("imports.report",               "GET",  "-",       (403,   404,   403,   404,   403,    404,   403,   LOGIN)),
    # Conflicts kept by sync (fieldapp/review): reviewers and police decide, within their scope;
    # a conflict on a person from abroad is police-only like the person.
    ("review.conflicts",             "GET",  "-",       (403,   403,   403,   200,   403,    200,   403,   LOGIN)),
    ("review.resolve",               "GET",  "own",     (405,   405,   405,   405,   405,    405,   405,   405)),
    ("review.resolve",               "POST", "own",     (403,   403,   403,   303,   403,    303,   403,   LOGIN)),
    ("review.resolve",               "POST", "west",    (403,   403,   403,   404,   403,    404,   403,   LOGIN)),
    ("review.resolve",               "POST", "town2",   (403,   403,   403,   404,   403,    404,   403,   LOGIN)),
    ("review.resolve",               "POST", "abroad",  (403,   403,   403,   404,   403,    303,   403,   LOGIN)),
    # Move requests (fieldapp/moves.py): reviewers and police of the receiving village decide; a
    # request for a person from abroad is police-only. "own" = a request into the own village for a
    # person registered in 西村; refusing needs no acknowledgement, so it answers 303. "town2" = a
    # request to move a person of the own village to another town: the sending side may refuse it.
    ("moves.queue",                  "GET",  "-",       (403,   403,   403,   200,   403,    200,   403,   LOGIN)),
    ("moves.decide",                 "GET",  "own",     (405,   405,   405,   405,   405,    405,   405,   405)),
    ("moves.decide",                 "POST", "own",     (403,   403,   403,   303,   403,    303,   403,   LOGIN)),
    ("moves.decide",                 "POST", "west",    (403,   403,   403,   404,   403,    404,   403,   LOGIN)),
    ("moves.decide",                 "POST", "town2",   (403,   403,   403,   303,   403,    303,   403,   LOGIN)),
    ("moves.decide",                 "POST", "abroad",  (403,   403,   403,   404,   403,    303,   403,   LOGIN)),
    # Fabrication flags (fieldapp/flags): the list for those who answer for the village's work, the
    # clear for the desk (police: people from abroad only); a collector never clears a flag.
    ("flags.index",                  "GET",  "own",     (403,   200,   200,   200,   403,    200,   403,   LOGIN)),
    ("flags.index",                  "GET",  "west",    (403,   200,   404,   404,   403,    404,   403,   LOGIN)),
    ("flags.index",                  "GET",  "town2",   (403,   404,   404,   404,   403,    404,   403,   LOGIN)),
    ("flags.clear",                  "GET",  "own",     (405,   405,   405,   405,   405,    405,   405,   405)),
    ("flags.clear",                  "POST", "own",     (403,   403,   403,   303,   403,    404,   403,   LOGIN)),
    ("flags.clear",                  "POST", "west",    (403,   403,   403,   404,   403,    404,   403,   LOGIN)),
    ("flags.clear",                  "POST", "town2",   (403,   403,   403,   404,   403,    404,   403,   LOGIN)),
    ("flags.clear",                  "POST", "abroad",  (403,   403,   403,   404,   403,    303,   403,   LOGIN)),
    # The entry desk (fieldapp/review/desk_views.py): reviewers decide collected changes in their
    # villages; police only those on people from abroad (and nobody else sees those).
    ("review.review_queue",          "GET",  "-",       (403,   403,   403,   200,   403,    200,   403,   LOGIN)),
    ("review.review_entry",          "GET",  "own",     (403,   403,   403,   200,   403,    404,   403,   LOGIN)),
    ("review.review_entry",          "GET",  "west",    (403,   403,   403,   404,   403,    404,   403,   LOGIN)),
    ("review.review_entry",          "GET",  "town2",   (403,   403,   403,   404,   403,    404,   403,   LOGIN)),
    ("review.review_entry",          "GET",  "abroad",  (403,   403,   403,   404,   403,    200,   403,   LOGIN)),
    ("review.approve_entry",         "GET",  "own",     (405,   405,   405,   405,   405,    405,   405,   405)),
    ("review.approve_entry",         "POST", "own",     (403,   403,   403,   303,   403,    404,   403,   LOGIN)),
    ("review.approve_entry",         "POST", "west",    (403,   403,   403,   404,   403,    404,   403,   LOGIN)),
    ("review.approve_entry",         "POST", "town2",   (403,   403,   403,   404,   403,    404,   403,   LOGIN)),
    ("review.approve_entry",         "POST", "abroad",  (403,   403,   403,   404,   403,    303,   403,   LOGIN)),
    ("review.return_entry",          "GET",  "own",     (405,   405,   405,   405,   405,    405,   405,   405)),
    ("review.return_entry",          "POST", "own",     (403,   403,   403,   303,   403,    404,   403,   LOGIN)),
    ("review.return_entry",          "POST", "west",    (403,   403,   403,   404,   403,    404,   403,   LOGIN)),
    ("review.return_entry",          "POST", "town2",   (403,   403,   403,   404,   403,    404,   403,   LOGIN)),
    ("review.return_entry",          "POST", "abroad",  (403,   403,   403,   404,   403,    303,   403,   LOGIN)),
    ("review.approve_many",          "GET",  "-",       (405,   405,   405,   405,   405,    405,   405,   405)),
    ("review.approve_many",          "POST", "-",       (403,   403,   403,   303,   403,    303,   403,   LOGIN)),
    ("review.reveal",                "GET",  "own",     (405,   405,   405,   405,   405,    405,   405,   405)),
    ("review.reveal",                "POST", "own",     (403,   403,   403,   200,   403,    200,   403,   LOGIN)),
    ("review.reveal",                "POST", "west",    (403,   403,   403,   404,   403,    404,   403,   LOGIN)),
    ("review.reveal",                "POST", "abroad",  (403,   403,   403,   404,   403,    200,   403,   LOGIN)),
    # Photos (fieldapp/photoview): photos.view = the roles that read the registry, in the scope of
    # the record the photo shows; a person from abroad's photo is police-only like the person.
    ("photoview.photo",              "GET",  "own",     (403,   200,   200,   200,   200,    200,   403,   LOGIN)),
    ("photoview.photo",              "GET",  "west",    (403,   200,   404,   404,   404,    404,   403,   LOGIN)),
    ("photoview.photo",              "GET",  "town2",   (403,   404,   404,   404,   404,    404,   403,   LOGIN)),
    ("photoview.photo",              "GET",  "abroad",  (403,   404,   404,   404,   404,    200,   403,   LOGIN)),
    ("photoview.thumbnail",          "GET",  "own",     (403,   200,   200,   200,   200,    200,   403,   LOGIN)),
    ("photoview.thumbnail",          "GET",  "west",    (403,   200,   404,   404,   404,    404,   403,   LOGIN)),
    ("photoview.thumbnail",          "GET",  "town2",   (403,   404,   404,   404,   404,    404,   403,   LOGIN)),
    ("photoview.thumbnail",          "GET",  "abroad",  (403,   404,   404,   404,   404,    200,   403,   LOGIN)),
    # Town set-up (fieldapp/townsetup): admins only (town.manage), their own town; sub-area
    # assignments (town.assign): admins for the town, village heads for their villages' accounts.
    ("townsetup.index",              "GET",  "-",       (200,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("townsetup.index",              "POST", "-",       (303,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("townsetup.new_village",        "GET",  "-",       (200,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("townsetup.new_village",        "POST", "-",       (303,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("townsetup.edit_village",       "GET",  "own",     (200,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("townsetup.edit_village",       "GET",  "west",    (200,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("townsetup.edit_village",       "GET",  "town2",   (404,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("townsetup.edit_village",       "POST", "own",     (303,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("townsetup.edit_village",       "POST", "town2",   (404,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("townsetup.move_village",       "GET",  "own",     (405,   405,   405,   405,   405,    405,   405,   405)),
    ("townsetup.move_village",       "POST", "own",     (303,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("townsetup.move_village",       "POST", "town2",   (404,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("townsetup.new_sub_area",       "GET",  "own",     (405,   405,   405,   405,   405,    405,   405,   405)),
    ("townsetup.new_sub_area",       "POST", "own",     (303,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("townsetup.new_sub_area",       "POST", "town2",   (404,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("townsetup.edit_sub_area",      "GET",  "own",     (200,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("townsetup.edit_sub_area",      "GET",  "town2",   (404,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("townsetup.edit_sub_area",      "POST", "own",     (303,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("townsetup.edit_sub_area",      "POST", "town2",   (404,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("townsetup.quotas",             "GET",  "-",       (200,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("townsetup.quotas",             "POST", "-",       (303,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("townsetup.upload_quotas",      "GET",  "-",       (405,   405,   405,   405,   405,    405,   405,   405)),
    ("townsetup.upload_quotas",      "POST", "-",       (303,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("townsetup.workbook",           "GET",  "-",       (200,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("townsetup.workbook",           "POST", "-",       (303,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("townsetup.template",           "GET",  "-",       (200,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("townsetup.assignments",        "GET",  "-",       (200,   403,   200,   403,   403,    403,   403,   LOGIN)),
    ("townsetup.assign",             "GET",  "own",     (405,   405,   405,   405,   405,    405,   405,   405)),
    ("townsetup.assign",             "POST", "own",     (303,   403,   303,   403,   403,    403,   403,   LOGIN)),
    ("townsetup.assign",             "POST", "town2",   (404,   403,   404,   403,   403,    403,   403,   LOGIN)),
    # Collection IDs in bulk (fieldapp/roster): accounts.manage (admin) of the same town. "own" = a
    # collector of the own town to move, and a batch of the own town with an ID not yet activated.
    ("roster.bulk",                  "GET",  "-",       (200,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("roster.bulk",                  "POST", "-",       (200,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("roster.template",              "GET",  "-",       (200,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("roster.batch_letters",         "GET",  "own",     (405,   405,   405,   405,   405,    405,   405,   405)),
    ("roster.batch_letters",         "POST", "own",     (200,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("roster.batch_letters",         "POST", "town2",   (404,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("roster.move",                  "GET",  "own",     (200,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("roster.move",                  "GET",  "town2",   (404,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("roster.move",                  "POST", "own",     (303,   403,   403,   403,   403,    403,   403,   LOGIN)),
    ("roster.move",                  "POST", "town2",   (404,   403,   403,   403,   403,    403,   403,   LOGIN)),
    # Printed forms (fieldapp/prints): prints.registry = supervisor, village head, reviewer, police;
    # prints.tips (an informant's form) = supervisor, village head. "own" sub-area and informant:
    # those of the own village (tests/prints_builders.add_print_targets).
    ("prints.index",                 "GET",  "-",       (403,   200,   200,   200,   403,    200,   403,   LOGIN)),
    ("prints.house",                 "GET",  "own",     (403,   200,   200,   200,   403,    200,   403,   LOGIN)),
    ("prints.house",                 "GET",  "west",    (403,   200,   404,   404,   403,    404,   403,   LOGIN)),
    ("prints.house",                 "GET",  "town2",   (403,   404,   404,   404,   403,    404,   403,   LOGIN)),
    ("prints.village",               "GET",  "own",     (403,   200,   200,   200,   403,    200,   403,   LOGIN)),
    ("prints.village",               "GET",  "west",    (403,   200,   404,   404,   403,    404,   403,   LOGIN)),
    ("prints.village",               "GET",  "town2",   (403,   404,   404,   404,   403,    404,   403,   LOGIN)),
    ("prints.sub_area",              "GET",  "own",     (403,   200,   200,   200,   403,    200,   403,   LOGIN)),
    ("prints.sub_area",              "GET",  "west",    (403,   200,   404,   404,   403,    404,   403,   LOGIN)),
    ("prints.sub_area",              "GET",  "town2",   (403,   404,   404,   404,   403,    404,   403,   LOGIN)),
    ("prints.informant",             "GET",  "own",     (403,   200,   200,   403,   403,    403,   403,   LOGIN)),
    ("prints.informant",             "GET",  "west",    (403,   200,   404,   403,   403,    403,   403,   LOGIN)),
    ("prints.informant",             "GET",  "town2",   (403,   404,   404,   403,   403,    403,   403,   LOGIN)),
    # POST: the same forms with full numbers (identifier.reveal, which every prints.registry role holds).
    ("prints.house",                 "POST", "own",     (403,   200,   200,   200,   403,    200,   403,   LOGIN)),
    ("prints.house",                 "POST", "west",    (403,   200,   404,   404,   403,    404,   403,   LOGIN)),
    ("prints.house",                 "POST", "town2",   (403,   404,   404,   404,   403,    404,   403,   LOGIN)),
    ("prints.village",               "POST", "own",     (403,   200,   200,   200,   403,    200,   403,   LOGIN)),
    ("prints.village",               "POST", "town2",   (403,   404,   404,   404,   403,    404,   403,   LOGIN)),
    ("prints.sub_area",              "POST", "own",     (403,   200,   200,   200,   403,    200,   403,   LOGIN)),
    ("prints.sub_area",              "POST", "west",    (403,   200,   404,   404,   403,    404,   403,   LOGIN)),
    # Exports (fieldapp/exports): exports.download = supervisor, village head, reviewer, police; a
    # CSV of the target's village (another village or town: 404). The file is checked for names
    # outside the scope like any page ("own" includes the person from abroad: police only).
    ("exports.index",                "GET",  "-",       (403,   200,   200,   200,   403,    200,   403,   LOGIN)),
    ("exports.download",             "POST", "own",     (403,   200,   200,   200,   403,    200,   403,   LOGIN)),
    ("exports.download",             "POST", "west",    (403,   200,   404,   404,   403,    404,   403,   LOGIN)),
    ("exports.download",             "POST", "town2",   (403,   404,   404,   404,   403,    404,   403,   LOGIN)),
    # Search (fieldapp/search): registry readers; the query is POSTed (never in a URL) and each
    # search writes one audit row. Searching another scope's document number answers 200 with no
    # result (the names in SECRET_NAMES must not appear), never 404: a search names no record.
    ("search.index",                 "GET",  "-",       (403,   200,   200,   200,   200,    200,   403,   LOGIN)),
    ("search.index",                 "POST", "own",     (403,   200,   200,   200,   200,    200,   403,   LOGIN)),
    ("search.index",                 "POST", "west",    (403,   200,   200,   200,   200,    200,   403,   LOGIN)),
    ("search.index",                 "POST", "town2",   (403,   200,   200,   200,   200,    200,   403,   LOGIN)),
    ("search.index",                 "POST", "abroad",  (403,   200,   200,   200,   200,    200,   403,   LOGIN)),
    ("review.merge_people",          "GET",  "own",     (403,   403,   403,   200,   403,    200,   403,   LOGIN)),
    ("review.merge_people",          "GET",  "west",    (403,   403,   403,   404,   403,    404,   403,   LOGIN)),
    ("review.merge_people",          "GET",  "abroad",  (403,   403,   403,   404,   403,    200,   403,   LOGIN)),
    ("review.merge_houses",          "GET",  "own",     (403,   403,   403,   200,   403,    200,   403,   LOGIN)),
    ("review.merge_houses",          "GET",  "town2",   (403,   403,   403,   404,   403,    404,   403,   LOGIN)),
    ("review.merge_people",          "POST", "west",    (403,   403,   403,   404,   403,    404,   403,   LOGIN)),
    ("review.merge_people",          "POST", "abroad",  (403,   403,   403,   404,   403,    303,   403,   LOGIN)),
    ("review.merge_people",          "POST", "own",     (403,   403,   403,   303,   403,    303,   403,   LOGIN)),
    ("review.merge_houses",          "POST", "west",    (403,   403,   403,   404,   403,    404,   403,   LOGIN)),
    ("review.merge_houses",          "POST", "own",     (403,   403,   403,   303,   403,    303,   403,   LOGIN)),
]

# Successful POSTs to these change nothing in the database (session cookie only). Not auth.logout:
# signing out ends the session's row on the server and writes an audit line.
NO_DB_WRITE = {"auth.login", "auth.activate", "auth.language"}

# Names of records the account must not see anywhere outside their 200 pages.
SECRET_NAMES = {"west": "西村李四", "town2": "外镇王五", "abroad": "境外约翰"}


# --- builders local to this file ---------------------------------------------------------------

def make_campaign(town) -> int:
    """A one-phase campaign of `town` (admins edit their own town's campaigns only)."""
    from decimal import Decimal

    from fieldapp.models import Campaign, Phase
    campaign = Campaign(town_id=town.id, name="采集", start_date=date(2016, 4, 1), end_date=date(2016, 6, 30),
                        phases=[Phase(name="一", start_date=date(2016, 4, 1), end_date=date(2016, 6, 30),
                                      target_share=Decimal("1"))])
    db.session.add(campaign)
    db.session.commit()
    return campaign.id


def make_org(house, name: str, **fields) -> Organisation:
    org = records.add_organisation(records.Actor(None, "import"), house,
                                   {"name": name, "kind": "shop", **fields})
    db.session.commit()
    return org


def make_abroad_person(house, name: str) -> Person:
    return make_person(house, name=name, id_type="414", id_number=f"E{resident_id()[-8:]}",
                       sex="1", birth_date=date(1980, 5, 1), category="abroad", nationality="USA",
                       move_in_reason="work", ethnicity=None, hukou_type=None)


@dataclass
class Target:
    village: int
    house: int
    code: str = ""
    person: int | None = None
    person_id_number: str = ""
    leaver: int | None = None
    org: int | None = None
    closer: int | None = None
    account: int | None = None
    campaign: int | None = None  # campaigns.edit (the dashboard's campaign editor)
    # tips and badges (tests/tips_builders.add_tip_targets)
    tip: int | None = None
    tip_assigned: int | None = None
    tip_verified: int | None = None
    worker: int | None = None
    door_token: str = ""
    badge_account: int | None = None
    badge_token: str = ""
    conflict: int | None = None  # an unresolved conflict on `person` (review.*)
    move: int | None = None  # a pending move request into `house` (moves.*)
    photo: str = ""  # the uid of a portrait of `person` (photoview.*, tests/photo_builders.py)
    leaver_photo: str = ""  # ... and of `leaver`
    mover: int | None = None  # roster.move: a collector to move (tests/roster_builders.py)
    batch: str = ""  # roster.batch_letters: an issue batch with an ID not yet activated
    sub_area: int | None = None  # a sub-area holding `house` (prints.*)
    informant: int | None = None  # an informant of `village` (prints.informant)
    flag: int | None = None  # an open fabrication flag on `house` / `person` (flags.*, tests/flags_builders.py)
    desk: dict = field(default_factory=dict)  # pending changes to decide (tests/desk_builders.py)


@dataclass
class World:
    roles: dict = field(default_factory=dict)  # role -> collection_id
    ids: dict = field(default_factory=dict)  # role -> account id
    targets: dict = field(default_factory=dict)


def build_world() -> World:
    town, (east, west) = make_town()
    town2, far = make_other_town()
    world = World()
    for role in ROLES:
        account = make_account(town, role, [] if is_town_wide(role) else [east])
        world.roles[role], world.ids[role] = account.collection_id, account.id
    victim = make_account(town, "collector", [east])  # the admin's revoke / new activation code target
    stranger = make_account(town2, "collector", [far])  # an account of another town
    names = {"own": "东村张三", **SECRET_NAMES}
    for key, village in (("own", east), ("west", west), ("town2", far)):
        house = make_house(village, number="1", group="1", collected=True)
        person = make_person(house, name=names[key], phone="13812345678")
        leaver = make_person(house, name=names[key] + "搬")
        org = make_org(house, names[key] + "商店")
        closer = make_org(house, names[key] + "工厂")
        world.targets[key] = Target(village=village.id, house=house.id, code=house.door_code, person=person.id,
                                    person_id_number=person.id_number, leaver=leaver.id, org=org.id,
                                    closer=closer.id)
    world.targets["own"].account = victim.id
    world.targets["town2"].account = stranger.id
    world.targets["own"].campaign, world.targets["town2"].campaign = make_campaign(town), make_campaign(town2)
    own_house = db.session.get(House, world.targets["own"].house)
    abroad = make_abroad_person(own_house, names["abroad"])
    abroad_leaver = make_abroad_person(own_house, names["abroad"] + "搬")
    world.targets["abroad"] = Target(village=east.id, house=own_house.id, code=own_house.door_code,
                                     person=abroad.id, person_id_number=abroad.id_number, leaver=abroad_leaver.id)
    world.targets["-"] = world.targets["own"]
    add_tip_targets(world)
    add_photo_targets(world)
    add_townsetup_targets(world)
    add_roster_targets(world)
    add_print_targets(world)
    add_flag_targets(world)
    add_desk_targets(world, make_abroad_person)
    add_merge_targets(world)
    for key in ("own", "west", "town2", "abroad"):
        conflict = Conflict(entity="person", entity_id=world.targets[key].person, field="phone", base=None,
                            current="13812345678", submitted="13912345678")
        db.session.add(conflict)
        db.session.flush()
        world.targets[key].conflict = conflict.id
    # A pending move request into each target's house, for a person registered elsewhere.
    registered_in = {"own": "west", "west": "town2", "town2": "own", "abroad": "abroad"}
    for key, source in registered_in.items():
        person = db.session.get(Person, world.targets[source].person)
        house = db.session.get(House, world.targets[key].house)
        request = MoveRequest(person_id=person.id, from_village_id=person.village_id, to_house_id=house.id,
                              to_village_id=house.village_id, police_only=key == "abroad",
                              data={"name": "想搬来", "id_type": person.id_type, "id_number": person.id_number})
        db.session.add(request)
        db.session.flush()
        world.targets[key].move = request.id
    db.session.commit()  # end the read transaction: only plain ids leave this function
    return world


# --- helpers ---------------------------------------------------------------------------------

# GETs that show personal data (or the audit log itself) write exactly one audit row when they answer 200.
AUDITED_GETS = {"registry.edit_house", "registry.edit_person", "registry.house", "registry.person",
                "doors.sheet", "doors.blank_sheet", "doors.house", "doors.qr_png", "doors.qr_svg", "review.conflicts",
                "auditlog.index", "auditlog.export", "moves.queue", "tips.tip", "tips.photo",
                "registry.edit_organisation", "registry.leave", "photoview.photo", "photoview.thumbnail",
                "prints.house", "prints.informant", "flags.index", "progress.late", "review.review_queue",
                "review.review_entry", "review.merge_people", "review.merge_houses"}

# GETs that print a batch of houses write one audit row per house printed (fieldapp/prints/service.py).
AUDITED_PER_HOUSE = {"prints.village", "prints.sub_area"}

# POSTs whose refusal shows the page with personal data again (the tip, the edit form's numbers):
# that showing is logged like the GET's.
AUDITED_RERENDERS = {"tips.take", "tips.assign", "tips.verify", "tips.close", "registry.edit_house",
                     "registry.edit_person", "registry.edit_organisation", "registry.leave"}


def version_of(model, record_id) -> str:
    value = db.session.scalar(select(model.version).where(model.id == record_id))
    db.session.rollback()
    return str(value)


def url_args(endpoint: str, target: Target) -> dict:
    args = {
        "static": {"filename": "css/app.css"},
        "auth.language": {"code": "en"},
        "registry.houses": {"village_id": target.village},
        "registry.new_house": {"village_id": target.village},
        "registry.find": {"code": target.code.lower()[:4] + "-" + target.code.lower()[4:]},
        "registry.house": {"house_id": target.house},
        "registry.edit_house": {"house_id": target.house},
        "registry.new_person": {"house_id": target.house},
        "registry.new_organisation": {"house_id": target.house},
        "registry.person": {"person_id": target.person},
        "registry.reveal": {"person_id": target.person},
        "registry.edit_person": {"person_id": target.person},
        "registry.leave": {"person_id": target.leaver},
        "registry.edit_organisation": {"org_id": target.org},
        "registry.close_organisation": {"org_id": target.closer},
        "admin.reissue_activation": {"account_id": target.account},
        "admin.revoke": {"account_id": target.account},
        "api.photo_status": {"uid": "00000000-0000-4000-8000-000000000000"},
        "progress.village": {"village_id": target.village},
        "progress.late": {"village": target.village},
        "progress.throughput": {"village": target.village},
        "progress.throughput_file": {"fmt": "csv", "village": target.village},
        "campaigns.edit": {"campaign_id": target.campaign},
        "maps.house": {"house_id": target.house},
        "review.resolve": {"conflict_id": target.conflict},
        "review.reveal": {"conflict_id": target.conflict},
        "moves.decide": {"request_id": target.move, "action": "refuse"},
        "auditlog.index": {"record": f"person:{target.person}"},
        "auditlog.export": {"record": f"person:{target.person}"},
    }
    if endpoint in args:
        return args[endpoint]
    # Each area's builders know the arguments of its own routes (None for the others).
    for area_args in (matrix_url_args, doors_url_args, photo_url_args, town_url_args, roster_url_args,
                      prints_url_args, imports_url_args, flags_url_args, desk_url_args, merge_url_args):
        found = area_args(endpoint, target)
        if found:
            return found
    return {}


def post_data(endpoint: str, target: Target) -> dict:
    today = date.today().isoformat()
    desk = desk_post_data(endpoint, target)
    if desk is not None:
        return desk
    doors = doors_post_data(endpoint, target)
    if doors is not None:
        return doors
    flags = flags_post_data(endpoint, target)
    if flags is not None:
        return flags
    imports = imports_post_data(endpoint, target)
    if imports is not None:
        return imports
    ours = matrix_post_data(endpoint, target)
    if ours is not None:
        return ours
    town = town_post_data(endpoint, target)
    if town is not None:
        return town
    roster = roster_post_data(endpoint, target)
    if roster is not None:
        return roster
    if endpoint == "search.index":
        return {"q": target.person_id_number}
    if endpoint == "registry.new_house":
        return {"group_name": "9", "number": "88", "use": "owner", "known_on": today}
    if endpoint == "registry.edit_house":
        return {"group_name": "1", "number": "1", "use": "rented", "known_on": today,
                "version": version_of(House, target.house)}
    if endpoint == "registry.new_person":
        return {"name": "新来的", "id_type": "111", "id_number": resident_id(), "category": "local",
                "ethnicity": "01", "hukou_type": "1", "relation": "", "move_in_reason": "", "away_duration": "",
                "known_on": today}
    if endpoint == "registry.edit_person":
        version = version_of(Person, target.person)
        if target.person_id_number.startswith("E"):
            return {"name": "境外改名", "id_type": "414", "id_number": target.person_id_number,
                    "sex": "1", "birth_date": "1980-05-01", "category": "abroad", "nationality": "USA",
                    "move_in_reason": "work", "away_duration": "", "known_on": today, "version": version}
        return {"name": "改了名字", "id_type": "111", "id_number": target.person_id_number, "category": "local",
                "ethnicity": "01", "hukou_type": "1", "move_in_reason": "", "away_duration": "",
                "known_on": today, "version": version}
    if endpoint == "registry.leave":
        return {"left_date": today, "reason": "搬到县城", "version": version_of(Person, target.leaver)}
    if endpoint == "registry.new_organisation":
        return {"name": "新开的店", "kind": "shop", "known_on": today}
    if endpoint == "registry.edit_organisation":
        return {"name": "改名的店", "kind": "shop", "known_on": today,
                "version": version_of(Organisation, target.org)}
    if endpoint == "registry.close_organisation":
        return {"closed_date": today, "version": version_of(Organisation, target.closer)}
    if endpoint == "review.resolve":
        return {"choice": "kept", "version": version_of(Person, target.person)}
    if endpoint == "moves.decide":
        return {"note": "不是本人"}
    if endpoint == "exports.download":
        return {"dataset": "people", "preset": "standard", "fmt": "csv", "village": str(target.village)}
    if endpoint == "admin.issue":
        return {"name": "新发证", "role": "supervisor"}
    if endpoint == "admin.revoke":
        return {"reason": "证件遗失"}
    if endpoint in ("campaigns.new", "campaigns.edit"):
        return {"name": "2017 采集", "start_date": "2017-04-01", "end_date": "2017-07-31",
                "phases-0-name": "一", "phases-0-start_date": "2017-04-10", "phases-0-end_date": "2017-05-31",
                "phases-0-target_percent": "60", "phases-1-name": "二", "phases-1-start_date": "2017-06-01",
                "phases-1-end_date": "2017-06-30", "phases-1-target_percent": "100"}
    return {}


def build_url(app, endpoint: str, target: Target) -> str:
    with app.test_request_context():
        return url_for(endpoint, **url_args(endpoint, target))


# --- the matrix --------------------------------------------------------------------------------

def test_matrix_covers_every_route(app):
    """Every (endpoint, GET/POST) the app serves has a row, and every row names a real route."""
    served = set()
    for rule in app.url_map.iter_rules():
        for method in ("GET", "POST"):
            if method in rule.methods:
                served.add((rule.endpoint, method))
    listed = {(endpoint, method) for endpoint, method, _t, expected in MATRIX
              if not (isinstance(expected[0], int) and expected[0] == 405)}
    assert served - listed == set(), "routes without a permission-matrix row"
    assert listed - served == set(), "matrix rows for routes the app does not serve"
    # Rows listed as 405 really are routes that do not serve that method.
    for endpoint, method, _t, expected in MATRIX:
        assert len(expected) == len(COLUMNS), endpoint
        if expected[0] == 405:
            assert (endpoint, method) not in served
            assert any(endpoint == e for e, _m in served)


@pytest.mark.parametrize("who", COLUMNS)
def test_permission_matrix(ctx, app, login, who):
    world = build_world()
    column = COLUMNS.index(who)

    def signed_in_client():
        if who == "anon":
            return app.test_client()
        return login(db.session.get(Account, world.ids[who]))

    client = signed_in_client()
    failures = []
    for endpoint, method, target_key, expected in MATRIX:
        target = world.targets[target_key]
        want = expected[column]
        url = build_url(app, endpoint, target)
        data = post_data(endpoint, target) if method == "POST" else None
        # Signing out ends the session: give it its own client so later rows keep theirs.
        this = signed_in_client() if endpoint == "auth.logout" else client
        before = db_state()
        response = send(this, method, url, data)
        after = db_state()
        got = response.status_code
        where = f"{method} {url} ({endpoint}, {target_key})"
        if want == LOGIN:
            if got != 302 or not response.headers.get("Location", "").startswith("/login"):
                failures.append(f"{where}: expected redirect to /login, got {got} {response.headers.get('Location')}")
        elif got != want:
            failures.append(f"{where}: expected {want}, got {got}")
        should_write = method == "POST" and want in (200, 201, 303) and endpoint not in NO_DB_WRITE
        if should_write and after == before:
            failures.append(f"{where}: answered {got} but wrote nothing")
        audits_only = ((endpoint in AUDITED_GETS and got == 200)
                       or (endpoint in AUDITED_RERENDERS and got in (409, 422)))
        per_house = endpoint in AUDITED_PER_HOUSE and got == 200
        if audits_only or per_house:
            # Edit forms show full numbers, so opening one writes one audit event and nothing else.
            rows = response.get_data(as_text=True).count('<section class="sheet"') if per_house else 1
            expected_after = {**before, "audit_events": before["audit_events"] + rows}
            if per_house and rows == 0:
                failures.append(f"{where}: printed no house")
            if after != expected_after:
                failures.append(f"{where}: expected exactly one audit event, got {before} -> {after}")
        elif not should_write and after != before:
            failures.append(f"{where}: answered {got} and wrote to the database: {before} -> {after}")
        body = response.get_data().decode("utf-8", "replace")  # images (door QR PNGs) are not UTF-8
        for key, secret in SECRET_NAMES.items():
            if secret in body and not may_see(who, key):
                failures.append(f"{where}: page shows {secret!r}, a record outside the scope of {who}")
    assert not failures, "\n".join(failures)


def may_see(who: str, key: str) -> bool:
    """Whether `who` may see the records of target `key` (so their names may appear on a page)."""
    return (key == "west" and who == "supervisor") or (key == "abroad" and who == "police")


def test_admin_sees_own_town_accounts_but_no_personal_records(ctx, app, login):
    world = build_world()
    admin = login(db.session.get(Account, world.ids["admin"]))
    page = send(admin, "GET", "/admin/accounts").get_data(as_text=True)
    for cid in world.roles.values():
        assert cid in page
    stranger = db.session.get(Account, world.targets["town2"].account).collection_id
    assert stranger not in page  # another town's IDs are not listed
    for key in ("own", "west", "town2", "abroad"):
        person = db.session.get(Person, world.targets[key].person)
        for shown in (person.name, person.id_number, mask_id(person.id_number)):
            assert shown not in page
    db.session.rollback()
    for url in ("/villages", f"/houses/{world.targets['own'].house}", f"/people/{world.targets['own'].person}"):
        assert send(admin, "GET", url).status_code == 403


# --- people from abroad ------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["supervisor", "village_head", "reviewer", "collector", "police"])
def test_person_from_abroad_is_police_only_also_in_lists(ctx, login, role):
    town, (east, _west) = make_town()
    account = make_account(town, role, [] if is_town_wide(role) else [east])
    house = make_house(east, collected=True)
    local = make_person(house, name="本地人")
    abroad = make_abroad_person(house, "境外约翰")
    house_id, abroad_id, passport, village_id = house.id, abroad.id, abroad.id_number, east.id
    assert local.id
    client = login(account)
    police = role == "police"

    page = send(client, "GET", f"/houses/{house_id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "本地人" in text
    assert ("境外约翰" in text) is police
    assert (mask_id(passport) in text) is police
    assert (f"/people/{abroad_id}" in text) is police

    listing = send(client, "GET", f"/villages/{village_id}/houses").get_data(as_text=True)
    assert "境外约翰" not in listing

    expected = 200 if police else 404
    assert send(client, "GET", f"/people/{abroad_id}").status_code == expected
    before = db_state()
    reveal = send(client, "POST", f"/people/{abroad_id}/reveal")
    assert reveal.status_code == expected
    assert (passport in reveal.get_data(as_text=True)) is police
    if not police:
        assert db_state() == before


def test_non_police_cannot_register_a_person_from_abroad(ctx, login):
    """The category and the passport document type are not offered, and a forged post is refused."""
    town, (east, _west) = make_town()
    collector = make_account(town, "collector", [east])
    house = make_house(east, collected=True)
    house_id = house.id
    client = login(collector)
    form = send(client, "GET", f"/houses/{house_id}/people/new").get_data(as_text=True)
    assert 'value="abroad"' not in form
    assert 'value="414"' not in form
    before = db_state()
    response = send(client, "POST", f"/houses/{house_id}/people/new", {
        "name": "境外约翰", "id_type": "414", "id_number": "E1234567", "birth_date": "1980-05-01",
        "category": "abroad", "nationality": "USA", "move_in_reason": "work", "away_duration": "",
        "known_on": date.today().isoformat()})
    assert response.status_code == 422
    assert db_state() == before


def test_document_of_a_police_only_person_is_a_request_that_reveals_nothing(ctx, login):
    """A collector typing the resident-ID number of a police-only record gets the same answer as for
    anyone registered elsewhere: a move request, nothing moved, nothing about the person shown."""
    town, (east, west) = make_town()
    collector = make_account(town, "collector", [east])
    house = make_house(east, collected=True)
    other = make_house(west, collected=True)
    hidden = make_person(other, name="境外约翰", category="abroad", nationality="HKG", move_in_reason="work")
    house_id, hidden_id, number, other_id = house.id, hidden.id, hidden.id_number, other.id
    client = login(collector)
    response = send(client, "POST", f"/houses/{house_id}/people/new", {
        "name": "某人", "id_type": "111", "id_number": number, "category": "local", "ethnicity": "01",
        "hukou_type": "1", "move_in_reason": "", "away_duration": "", "known_on": date.today().isoformat()})
    assert response.status_code == 303
    page = send(client, "GET", response.headers["Location"]).get_data(as_text=True)
    assert "此证件号码已在别处登记" in page and "境外约翰" not in page and "西村" not in page
    assert db.session.get(Person, hidden_id).house_id == other_id
    request = db.session.scalar(select(MoveRequest))
    assert (request.person_id, request.police_only, request.status) == (hidden_id, True, "pending")


def test_changes_of_a_person_registered_from_abroad_are_police_only(ctx, login):
    town, (east, _west) = make_town()
    police = make_account(town, "police", [east])
    house = make_house(east, collected=True)
    house_id = house.id
    client = login(police)
    response = send(client, "POST", f"/houses/{house_id}/people/new", {
        "name": "境外约翰", "id_type": "414", "id_number": "E7654321", "sex": "1", "birth_date": "1980-05-01",
        "category": "abroad", "nationality": "usa", "ethnicity": "", "hukou_type": "", "relation": "",
        "move_in_reason": "work", "away_duration": "", "known_on": date.today().isoformat()})
    assert response.status_code == 303
    person = db.session.scalar(select(Person).where(Person.id_number == "E7654321"))
    assert (person.category, person.nationality) == ("abroad", "USA")
    rows = list(db.session.scalars(select(Change).where(Change.entity == "person", Change.entity_id == person.id)))
    assert [(c.kind, c.police_only) for c in rows] == [("new", True)]


def test_change_that_makes_a_person_abroad_is_police_only(ctx, login):
    town, (east, _west) = make_town()
    police = make_account(town, "police", [east])
    house = make_house(east, collected=True)
    person = make_person(house, name="陈某")
    person_id = person.id
    client = login(police)
    form = {"name": "陈某", "id_type": "111", "id_number": person.id_number, "category": "abroad",
            "nationality": "HKG", "ethnicity": "01", "hukou_type": "1", "move_in_reason": "work", "away_duration": "",
            "known_on": date.today().isoformat(), "version": str(person.version)}
    assert send(client, "POST", f"/people/{person_id}/edit", form).status_code == 303
    last = db.session.scalar(select(Change).where(Change.entity == "person", Change.entity_id == person_id)
                             .order_by(Change.id.desc()).limit(1))
    assert last.fields["category"] == ["local", "abroad"]
    assert last.police_only is True


# --- masked identifiers --------------------------------------------------------------------------

def test_id_number_masked_by_default_and_revealed_with_an_audit_event(ctx, login):
    town, (east, _west) = make_town()
    collector = make_account(town, "collector", [east])
    house = make_house(east, collected=True)
    number = resident_id()
    person = make_person(house, id_number=number, phone="13812345678")
    house_id, person_id, collector_id = house.id, person.id, collector.id
    masked = number[:6] + "*" * 8 + number[-4:]
    client = login(collector)

    for url in (f"/houses/{house_id}", f"/people/{person_id}"):
        text = send(client, "GET", url).get_data(as_text=True)
        assert masked in text, url
        assert number not in text, url
    person_page = send(client, "GET", f"/people/{person_id}").get_data(as_text=True)
    assert "13812345678" not in person_page
    assert "138****5678" in person_page
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "reveal_identifier")) == 0

    revealed = send(client, "POST", f"/people/{person_id}/reveal")
    assert revealed.status_code == 200
    text = revealed.get_data(as_text=True)
    assert number in text
    assert "13812345678" in text
    events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "reveal_identifier")))
    assert [(e.account_id, e.target) for e in events] == [(collector_id, f"person:{person_id}")]
    assert number not in (events[0].detail or "")  # the trail names the record, not the number

    again = send(client, "GET", f"/people/{person_id}").get_data(as_text=True)
    assert number not in again and masked in again  # revealing is for one page view only


# --- sessions: revoked and expired collection IDs ----------------------------------------------

def test_revoked_account_session_is_rejected_on_next_request(ctx, login):
    town, (east, _west) = make_town()
    collector = make_account(town, "collector", [east])
    house = make_house(east, collected=True)
    house_id, collector_id = house.id, collector.id
    client = login(collector)
    assert send(client, "GET", f"/houses/{house_id}").status_code == 200

    accounts.revoke(db.session.get(Account, collector_id), None, "left the job")
    db.session.commit()

    response = send(client, "GET", f"/houses/{house_id}")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    before = db_state()
    write = send(client, "POST", f"/villages/{east.id}/houses/new",
                 {"number": "9", "use": "owner", "known_on": date.today().isoformat()})
    assert write.status_code == 302 and write.headers["Location"].startswith("/login")
    assert db_state() == before
    # Signing in again is refused too.
    again = send(client, "POST", "/login", {"collection_id": db.session.get(Account, collector_id).collection_id,
                                            "pin": "secret-pin-1"})
    assert again.status_code == 401


def test_expired_collection_id_cannot_sign_in(ctx, app):
    town, (east, _west) = make_town()
    collector = make_account(town, "collector", [east])
    collector.valid_until = date.today() - timedelta(days=1)
    db.session.commit()
    cid = collector.collection_id
    client = app.test_client()
    response = send(client, "POST", "/login", {"collection_id": cid, "pin": "secret-pin-1"})
    assert response.status_code == 401
    home = send(client, "GET", "/villages")
    assert home.status_code == 302 and home.headers["Location"].startswith("/login")


def test_collection_id_valid_until_today_still_works(ctx, login):
    town, (east, _west) = make_town()
    collector = make_account(town, "collector", [east])
    collector.valid_until = date.today()
    db.session.commit()
    client = login(collector)
    assert send(client, "GET", f"/villages/{east.id}/houses").status_code == 200


def test_session_ends_when_collection_id_expires(ctx, login):
    town, (east, _west) = make_town()
    collector = make_account(town, "collector", [east])
    house = make_house(east, collected=True)
    house_id, collector_id = house.id, collector.id
    client = login(collector)
    assert send(client, "GET", f"/houses/{house_id}").status_code == 200
    db.session.get(Account, collector_id).valid_until = date.today() - timedelta(days=1)
    db.session.commit()
    response = send(client, "GET", f"/houses/{house_id}")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


# --- ids typed into the URL ----------------------------------------------------------------------

HUGE = 2 ** 64


@pytest.mark.parametrize("url", [f"/houses/{HUGE}", f"/houses/{HUGE}/edit", f"/houses/{HUGE}/people/new",
                                 f"/people/{HUGE}", f"/people/{HUGE}/edit", f"/people/{HUGE}/leave",
                                 f"/villages/{HUGE}/houses", f"/villages/{HUGE}/houses/new",
                                 f"/organisations/{HUGE}/edit", f"/organisations/{HUGE}/close",
                                 f"/houses/{2 ** 31}", f"/people/{2 ** 31}"])
def test_out_of_range_record_ids_answer_404(ctx, login, url):
    """An id beyond the database's integer range is a record that does not exist, not a server error."""
    town, (east, _west) = make_town()
    police = make_account(town, "police", [east])
    client = login(police)
    assert send(client, "GET", url).status_code == 404


def test_out_of_range_account_id_answers_404(ctx, login):
    town, (_east, _west) = make_town()
    admin = make_account(town, "admin")
    client = login(admin)
    assert send(client, "POST", f"/admin/accounts/{HUGE}/revoke", {"reason": "x"}).status_code == 404
