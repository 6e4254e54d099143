"""`golive serve` and `golive monitor`: the API app on this machine (functions/api/local.py), and the monitoring
conditions checked against it (golive/monitoring/local.py) with an environment's thresholds."""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.arguments import positive_float, positive_int
from golive.errors import UserError
from golive.ports import port_number


def add_serve(sub) -> None:
    serve = sub.add_parser(
        "serve", help="serve a bundle locally: the Lambda's FastAPI app under uvicorn, with /metrics"
    )
    serve.add_argument("--model", default="model_artifacts", help="bundle folder")
    serve.add_argument("--port", type=port_number, default=8000, help="TCP port, 1 to 65535")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="bind address (default: 127.0.0.1, this machine only; 0.0.0.0 for every interface)",
    )
    serve.add_argument(
        "--variant", choices=["fp32", "int8"], help="which ONNX model (default: the bundle's default, int8)"
    )
    serve.add_argument("--feedback-db", help="SQLite file for feedback (default: .golive/feedback.sqlite3)")
    serve.set_defaults(func=_serve)


def add_monitor(sub) -> None:
    mon = sub.add_parser(
        "monitor",
        help="check a local server's latency, errors, accuracy and drift against "
        "the alarm thresholds (exit 1 when one fires)",
    )
    mon.add_argument("--url", default="http://127.0.0.1:8000", help="the `golive serve` server")
    mon.add_argument("--env", default="dev", help="whose thresholds (infra/environments/<env>.json)")
    mon.add_argument(
        "--watch",
        type=positive_float,
        metavar="SECONDS",
        help="report every SECONDS on that window's traffic (default: one report since the server started)",
    )
    mon.add_argument(
        "--count", type=positive_int, help="with --watch: stop after this many reports (default: until Ctrl-C)"
    )
    mon.add_argument("--format", choices=["table", "json"], default="table", help="output format")
    mon.set_defaults(func=_monitor)


def _serve(ns: argparse.Namespace) -> int:
    from functions.api.local import serve
    from golive.bundle import verify_bundle
    from golive.ports import require_free_port

    verify_bundle(ns.model)  # a clear error before uvicorn starts
    check_feedback_db(ns.feedback_db)
    require_free_port(ns.host, ns.port)
    serve(ns.model, ns.host, ns.port, ns.variant, ns.feedback_db)
    return 0


def check_feedback_db(flag: str | None) -> None:
    """The feedback database `golive serve` would open (--feedback-db, else GOLIVE_FEEDBACK_DB, else the default),
    checked before anything starts: SQLite's own words for a folder or another file are a traceback."""
    from functions.api.settings import Settings
    from functions.common.sqlite_files import sqlite_store_problem

    if flag:
        path, named = flag, f"--feedback-db {flag}"
    elif "feedback_db" in Settings.environment_values():
        path = Settings.environment_values()["feedback_db"]
        named = f"GOLIVE_FEEDBACK_DB={path}"
    else:
        path = Settings.model_fields["feedback_db"].default
        named = f"the feedback database {path}"
    problem = sqlite_store_problem(Path(path))
    if problem:
        raise UserError(
            f"{named} {problem}: name a SQLite file for feedback, such as .golive/feedback.sqlite3 "
            "(a new one is created there)"
        )


def _monitor(ns: argparse.Namespace) -> int:
    from golive.monitoring.local import monitor
    from infra.config import load_config

    settings = load_config(ns.env).monitoring
    return monitor(ns.url, settings, watch_s=ns.watch, count=ns.count, fmt=ns.format)
