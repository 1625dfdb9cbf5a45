"""The API fuzzed from its own description (/api/openapi.json) with schemathesis, as a signed-in
phone: whatever a request holds, the answer is never a 5xx, its status is one the description
lists, and its body matches the schema described for that status. Bounded for CI: a few dozen
generated requests per operation and mode, on every backend the suite runs on."""
from __future__ import annotations

import pytest
import schemathesis
from schemathesis import GenerationMode
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_schema_conformance,
                                 status_code_conformance)

from fieldapp.extensions import db
from fieldapp.models import Account

from .builders import make_account, make_house, make_person, make_town
from .sync_builders import device_token

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 40


@pytest.fixture
def fuzz_app(make_app, tmp_path):
    return make_app(PHOTO_DIR=str(tmp_path / "photos"))


@pytest.fixture
def new_token(fuzz_app):
    """new_token() -> a fresh device credential of a collector with a house and a person in their
    village (fresh per operation: fuzzing DELETE /api/devices/current signs its device out)."""
    with fuzz_app.app_context():
        town, (east, _west) = make_town()
        make_person(make_house(east))
        collector_id = make_account(town, "collector", [east]).id

    def mint() -> str:
        with fuzz_app.app_context():
            return device_token(db.session.get(Account, collector_id))
    return mint


def test_no_request_gets_a_server_error_or_an_undescribed_answer(fuzz_app, new_token):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", fuzz_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    for operation in operations:
        fuzz(operation, GenerationMode.POSITIVE, new_token())
        try:  # requests the description does not allow
            fuzz(operation, GenerationMode.NEGATIVE, new_token())
        except Unsatisfiable:
            pass  # nothing to get wrong: an operation without parameters or body (ping, session)


def fuzz(operation, mode, token: str) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        case.call_and_validate(headers={**(case.headers or {}), "Authorization": f"Bearer {token}"}, checks=CHECKS)

    run()
