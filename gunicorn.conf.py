"""gunicorn settings for fieldapp: `gunicorn -c gunicorn.conf.py "fieldapp:create_app()"`.

Why gthread: live dashboards hold a Server-Sent Events response open for up to
DASHBOARD_STREAM_SECONDS (45 s), and a sync worker (gunicorn's default) would be tied up by one
of them. gthread gives each worker process a pool of threads; an open dashboard costs one mostly
idle thread (it waits on a threading.Condition that the process's single poller thread notifies,
fieldapp/live.py), not a process.

Why collectors are never starved: each process serves at most DASHBOARD_MAX_STREAMS dashboards at
once, set below to `threads - RESERVED_THREADS`; the next dashboard is answered at once with
`event: busy` and a retry hint (the browser comes back in 15 s, often to another worker). So at
least RESERVED_THREADS threads per process are always free for sync pushes, work packages and
pages. With the defaults (2 x cores workers, 80 threads, 16 reserved) a 2-core machine serves
4 x 64 = 256 open dashboards and still has 4 x 16 threads for collectors.

Everything here can be overridden by gunicorn's own command-line flags or GUNICORN_* variables;
FIELDAPP_DASHBOARD_MAX_STREAMS, if set, wins over the computed cap.
"""
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", max(2, 2 * multiprocessing.cpu_count())))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", 80))
RESERVED_THREADS = int(os.environ.get("GUNICORN_RESERVED_THREADS", 16))
# Open connections per worker (streams + keep-alive): well above the stream cap.
worker_connections = 1000
# gthread workers heartbeat from their main loop, so a 45 s stream does not trip the timeout.
timeout = 60
graceful_timeout = 30
keepalive = 5
# Each worker loads the app itself: nothing is shared between processes but the database.
preload_app = False

os.environ.setdefault("FIELDAPP_DASHBOARD_MAX_STREAMS", str(max(1, threads - RESERVED_THREADS)))
