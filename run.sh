#!/bin/sh
# Quick start: set everything up and run fieldapp on the embedded default (SQLite in instance/,
# migrated on every start, the Yuping 2016 demo loaded when the database is empty).
set -e
cd "$(dirname "$0")"
. ./scripts/venv.sh
ensure_venv ""
.venv/bin/flask --app fieldapp setup
echo
echo "fieldapp is starting: open http://127.0.0.1:5000 (sign in with a demo collection ID above, PIN yuping2016)."
echo "Stop it with Ctrl+C."
exec .venv/bin/flask --app fieldapp run --host 127.0.0.1 --port 5000
