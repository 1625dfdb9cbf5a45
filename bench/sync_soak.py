"""Sync soak: the fault driver of tests/test_sync_faults.py as a long run (issue 9).

Simulated phones push to fieldapp run as shipped (gunicorn -c gunicorn.conf.py, several workers) with
duplicated, reordered and dropped-answer batches, reused uids, damaged items, photos and kill -9 of the
server mid-push, then the same end checks as the test: every item applied exactly once, nothing held
forever, counters equal to `recount`, no 5xx. Prints one JSON report (items, faults injected, 5xx,
lost, duplicates, ...) and exits 1 when any check failed.

    .venv/bin/python bench/sync_soak.py [--rounds 200] [--phones 12] [--kills 4] [--seed N]
        [--db sqlite | postgresql+psycopg://postgres@127.0.0.1/scratch]   # the PostgreSQL database is wiped
        [--servers 2 --redis redis://127.0.0.1:6379/13]   # several app servers (PostgreSQL only)

--rounds is per phone (12 phones x 200 rounds = 2,400 push rounds, plus duplicates and retries).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.server_process import AppServer, empty_database, flask_cli, migrate  # noqa: E402
from tests.sync_fault_driver import (FaultConfig, check_counters, check_records, log_kinds,  # noqa: E402
                                     make_accounts, register_devices, report_problems, run_phones)

SECRET = "sync-soak-secret"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite", help="'sqlite' (a scratch file) or a PostgreSQL URL (wiped)")
    parser.add_argument("--rounds", type=int, default=200, help="push rounds per phone")
    parser.add_argument("--phones", type=int, default=12)
    parser.add_argument("--kills", type=int, default=4, help="kill -9 of the server during the run")
    parser.add_argument("--seed", type=int, default=20161121)
    parser.add_argument("--servers", type=int, default=1, help="app servers (gunicorn masters) on one database")
    parser.add_argument("--redis", default=None, help="FIELDAPP_REDIS_URL for the servers")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (database, logs)")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="sync-soak-"))
    if args.db == "sqlite":
        url = "sqlite:///" + str(scratch / "soak.sqlite")
    else:
        url = args.db
        from sqlalchemy import create_engine, text
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
    migrate(url, SECRET)
    config = FaultConfig(phones=args.phones, rounds=args.rounds, seed=args.seed, kills=args.kills,
                         kill_server=args.servers - 1, deadline_seconds=max(300.0, args.rounds * 6.0))
    accounts = make_accounts(url, config.phones, secret_key=SECRET)
    env = {"FIELDAPP_PHOTO_DIR": str(scratch / "photos")}
    if args.redis:
        env["FIELDAPP_REDIS_URL"] = args.redis
    servers = [AppServer(url, SECRET, scratch / f"server{n + 1}.log", workers=args.workers, threads=args.threads,
                         extra_env=env) for n in range(args.servers)]
    started = time.monotonic()
    try:
        for server in servers:
            server.start()
        tokens = register_devices(servers, accounts["collectors"])
        phones, report = run_phones(servers, accounts, tokens, config, log=lambda m: print(m, file=sys.stderr))
        problems = report_problems(report)
        record_problems, figures = check_records(url, phones)
        counter_problems = check_counters(url, lambda: flask_cli(url, SECRET, "recount"))
    finally:
        for server in servers:
            server.stop()
    logs = "\n".join(s.log_text() for s in servers)
    summary = {"db": "sqlite" if args.db == "sqlite" else "postgresql", "servers": args.servers,
               "phones": args.phones, "rounds_per_phone": args.rounds, "seed": args.seed,
               **report.summary(), "checks": figures,
               "lost": sum(v for k, v in figures.items() if k.startswith("lost") or k == "held forever"
                           or k.startswith("held, then refused")),
               "duplicates": sum(v for k, v in figures.items() if "created !=" in k or "stored !=" in k
                                 or k.startswith("duplicate")),
               "server log tracebacks": log_kinds(logs), "wall_seconds": round(time.monotonic() - started, 1),
               "problems": problems + record_problems + counter_problems,
               "5xx_bodies": [body[:300] for *_rest, body in report.server_errors[:20]]}
    print(json.dumps(summary, ensure_ascii=False, indent=1, default=str))
    if args.keep:
        print(f"scratch kept in {scratch}", file=sys.stderr)
    else:
        import shutil
        shutil.rmtree(scratch, ignore_errors=True)
        if args.db != "sqlite":
            empty_database(url)
    return 1 if summary["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
