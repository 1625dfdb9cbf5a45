#!/bin/sh
# Install the test dependencies and run the whole test suite. Extra arguments go to pytest.
# Every app test runs on SQLite; set FIELDAPP_TEST_DATABASE_URL to a scratch PostgreSQL database
# (it is wiped) to run them on PostgreSQL too.
set -e
cd "$(dirname "$0")"
. ./scripts/venv.sh
ensure_venv "[test]"
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
