"""Checks the planner's case tables against real Alembic.

Run it by hand (it is not part of the Rust test suite) after changing a table in
`db-migrate/src/plan/tests.rs`:

    python3 -m pip install 'alembic>=1.13'    # once
    python3 db-migrate/tests/it/alembic/plan_cases.py [-v] [CASE-NAME-SUBSTRING ...]

It reads `REVISIONS` and every `const NAME: &[Case]` table from `tests.rs`, builds each graph
as an Alembic versions folder (one file per revision, named by its id, as Alembic sorts them),
and for each case starts a new SQLite database whose `alembic_version` holds the case's rows,
runs the case's `upgrade` / `downgrade` / `stamp` through `alembic.command`, and compares:

- `Runs(steps, rows)`: the migrations that ran, in order (`+id` up, `-id` down; none for a
  stamp) and the version table's rows afterwards (sorted);
- `Fails(ours, alembic)`: that Alembic refuses, with `alembic` a substring of its error
  (`ours` is this crate's message, checked by the Rust test).

Prints one line per mismatch with Alembic's own outcome written as a table entry, then
`N passed, N failed`; exits 1 when any case disagrees. `-v` prints every case.
"""

import logging
import os
import re
import sys
import tempfile

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from alembic_project import write_project

logging.disable(logging.CRITICAL)

HERE = os.path.dirname(os.path.abspath(__file__))
TABLES = os.path.join(HERE, "..", "..", "..", "src", "plan", "tests.rs")

# Rust literals as the tables write them.
STR = r'"(?:[^"\\]|\\.)*"'
LIST = r"&\[\s*(?:" + STR + r"\s*,?\s*)*\]"
REV = re.compile(
    r"\(\s*(" + STR + r")\s*,\s*(" + STR + r")\s*,\s*(" + LIST + r")\s*,\s*(" + LIST
    + r")\s*,\s*(" + LIST + r")\s*,?\s*\)"
)
CASE = re.compile(
    r"\(\s*(" + STR + r")\s*,\s*(" + STR + r")\s*,\s*(" + LIST + r")\s*,\s*(" + STR
    + r")\s*,\s*(Runs|Fails)\(\s*(" + LIST + "|" + STR + r")\s*,\s*(" + LIST + "|" + STR
    + r")\s*,?\s*\)\s*,?\s*\)"
)
TABLE = re.compile(r"const\s+(\w+)\s*:\s*&\[Case\]\s*=")


def string(lit):
    return re.sub(r"\\(.)", r"\1", lit[1:-1])


def strings(lit):
    if lit.startswith('"'):
        return string(lit)
    return [string(s) for s in re.findall(STR, lit)]


def rust_list(items):
    return "&[" + ", ".join('"%s"' % i for i in items) + "]"


def parse(text):
    start = text.index("const REVISIONS")
    end = text.index("];", start)
    graphs = {}
    for m in REV.finditer(text, start, end):
        graph, rev, down, labels, depends = (strings(g) for g in m.groups())
        graphs.setdefault(graph, []).append((rev, down, labels, depends))
    tables = [(m.start(), m.group(1)) for m in TABLE.finditer(text)]
    cases = []
    for m in CASE.finditer(text, end):
        table = [name for pos, name in tables if pos < m.start()][-1]
        name, graph, rows, cmd, kind, a, b = m.groups()
        cases.append(
            {
                "table": table,
                "name": string(name),
                "graph": string(graph),
                "rows": strings(rows),
                "command": string(cmd),
                "kind": kind,
                "a": strings(a),
                "b": strings(b),
            }
        )
    return graphs, cases


def write_graph(workdir, name, revisions):
    return write_project(os.path.join(workdir, name), revisions, up="+", down="-")


def run(script_dir, db, rows, cmd):
    """Alembic's outcome: (ok, steps, rows, error)."""
    url = "sqlite:///" + db
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE run_log (id INTEGER PRIMARY KEY AUTOINCREMENT, step TEXT)"))
        conn.execute(
            sa.text(
                "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
            )
        )
        for r in rows:
            conn.execute(sa.text("INSERT INTO alembic_version VALUES (:r)"), {"r": r})
    cfg = Config()
    cfg.set_main_option("script_location", script_dir)
    cfg.set_main_option("sqlalchemy.url", url)
    verb, _, target = cmd.partition(" ")
    try:
        if verb == "stamp":
            targets = target.split()
            command.stamp(cfg, targets if len(targets) > 1 else targets[0])
        else:
            getattr(command, verb)(cfg, target)
        ok, error = True, ""
    except Exception as e:  # noqa: BLE001 - Alembic refuses with many exception types
        ok, error = False, f"{type(e).__name__}: {e}"
        if e.__cause__ is not None:
            error += f" (from {type(e.__cause__).__name__}: {e.__cause__})"
    with engine.connect() as conn:
        after = sorted(r[0] for r in conn.execute(sa.text("SELECT version_num FROM alembic_version")))
        steps = [r[0] for r in conn.execute(sa.text("SELECT step FROM run_log ORDER BY id"))]
    engine.dispose()
    return ok, steps, after, error


def main():
    args = sys.argv[1:]
    verbose = "-v" in args
    only = [a for a in args if a != "-v"]
    with open(TABLES) as f:
        graphs, cases = parse(f.read())
    if only:
        cases = [c for c in cases if any(o in c["name"] for o in only)]
    passed = failed = 0
    with tempfile.TemporaryDirectory() as workdir:
        dirs = {name: write_graph(workdir, name, revs) for name, revs in graphs.items()}
        for i, case in enumerate(cases):
            label = f"{case['table']}/{case['name']}: {case['graph']} {case['rows']} `{case['command']}`"
            if case["graph"] not in dirs:
                print(f"{label}: unknown graph")
                failed += 1
                continue
            db = os.path.join(workdir, f"case{i}.sqlite3")
            ok, steps, rows, error = run(dirs[case["graph"]], db, case["rows"], case["command"])
            if case["kind"] == "Runs":
                good = ok and steps == case["a"] and rows == sorted(case["b"])
            else:
                good = not ok and case["b"] in error
            if ok:
                actual = f"Runs({rust_list(steps)}, {rust_list(rows)})"
            else:
                actual = f"Fails(\"...\", \"{error}\")"
            if good:
                passed += 1
                if verbose:
                    print(f"ok   {label}: {actual}")
            else:
                failed += 1
                print(f"FAIL {label}: Alembic gives {actual}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
