#!/bin/sh
# Install the test dependencies and run the whole test suite. Extra arguments go to pytest.
# Every app test runs on SQLite; set FIELDAPP_TEST_DATABASE_URL to a scratch PostgreSQL database
# (it is wiped) to run them on PostgreSQL too.
set -e
cd "$(dirname "$0")"
. ./scripts/venv.sh
ensure_venv "[test]"
# Two workers (pytest-xdist), each test module in one of them so that its world is built once; on
# PostgreSQL each worker uses a database of its own (tests/conftest.py). FIELDAPP_TEST_WORKERS=0
# runs everything in this process.
exec .venv/bin/python -m pytest -p no:cacheprovider -n "${FIELDAPP_TEST_WORKERS:-2}" --dist loadscope "$@"
