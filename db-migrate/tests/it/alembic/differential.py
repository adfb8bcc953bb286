"""Runs command sequences on random revision graphs with real Alembic, for the differential test
in `differential.rs`. Reads JSON on stdin:

    {"workdir": "...", "cases": [{"revisions": [{"rev": "a1", "down": [], "labels": [],
      "depends": [], "file": null}, ...], "commands": [["upgrade", "head"], ...], "url": null}, ...]}

`url` is a SQLAlchemy URL of an empty database to use (default: a new SQLite file); `file` the
revision's file name in the versions folder (default `<rev>.py`).

and writes one JSON line per case: for each command, whether it succeeded, the version table's
rows after it (sorted), the migrations it ran, in order (`up:a1`, `down:a1`), and what
`alembic current` and `alembic current --verbose` print afterwards (`current`, `current_verbose`:
lines, or the error).
"""

import io
import json
import logging
import os
import sys

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from alembic_project import write_project

logging.disable(logging.CRITICAL)

def run_case(workdir, index, case):
    base = write_project(
        os.path.join(workdir, f"case{index}"),
        ((r["rev"], r["down"], r["labels"], r["depends"], r.get("file")) for r in case["revisions"]),
    )
    url = case.get("url") or "sqlite:///" + os.path.join(base, "alembic.sqlite3")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    meta = sa.MetaData()
    run_log = sa.Table(
        "run_log",
        meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("step", sa.String(64), nullable=False),
    )
    meta.create_all(engine)
    cfg = Config()
    cfg.set_main_option("script_location", base)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    seen = 0
    results = []
    for verb, target in case["commands"]:
        try:
            getattr(command, verb)(cfg, target)
            ok = True
            error = ""
        except BaseException as e:  # noqa: BLE001 - Alembic raises many kinds; all count as a refusal
            ok = False
            error = f"{type(e).__name__}: {e}"
        with engine.connect() as conn:
            try:
                rows = sorted(r[0] for r in conn.execute(sa.text("SELECT version_num FROM alembic_version")))
            except sa.exc.DBAPIError:
                conn.rollback()
                rows = []
            steps = [
                r[0]
                for r in conn.execute(
                    sa.select(run_log.c.step).where(run_log.c.id > seen).order_by(run_log.c.id)
                )
            ]
            seen = conn.execute(sa.select(sa.func.coalesce(sa.func.max(run_log.c.id), 0))).scalar()
        results.append(
            {
                "ok": ok,
                "rows": rows,
                "steps": steps,
                "error": error,
                "current": current_text(cfg, False),
                "current_verbose": current_text(cfg, True),
            }
        )
    engine.dispose()
    return results


def current_text(cfg, verbose):
    """The lines `alembic current [--verbose]` prints, or `["error: ..."]`."""
    out = io.StringIO()
    cfg.stdout = out
    try:
        command.current(cfg, verbose=verbose)
    except BaseException as e:  # noqa: BLE001 - an unknown row makes Alembic refuse
        return [f"error: {type(e).__name__}"]
    finally:
        cfg.stdout = sys.stdout
    return out.getvalue().splitlines()


def main():
    request = json.load(sys.stdin)
    for index, case in enumerate(request["cases"]):
        print(json.dumps(run_case(request["workdir"], index, case)), flush=True)


if __name__ == "__main__":
    main()
