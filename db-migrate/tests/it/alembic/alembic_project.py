"""A throwaway Alembic project for a revision graph, shared by `differential.py` and
`plan_cases.py`: `env.py` runs migrations on `sqlalchemy.url`, and each revision's upgrade and
downgrade insert a marker row into the `run_log` table so the caller can read which
migrations ran, in order."""

import os

ENV_PY = """
from alembic import context
from sqlalchemy import create_engine, pool

connectable = create_engine(context.config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
with connectable.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
"""

VERSION = """
from alembic import op

revision = {rev!r}
down_revision = {down}
branch_labels = {labels}
depends_on = {depends}


def upgrade():
    op.execute("INSERT INTO run_log (step) VALUES ('{up}{rev}')")


def downgrade():
    op.execute("INSERT INTO run_log (step) VALUES ('{down_mark}{rev}')")
"""


def tuple_or_none(items):
    """Alembic's spelling of a revision list: None, one id, or a tuple."""
    if not items:
        return "None"
    if len(items) == 1:
        return repr(items[0])
    return repr(tuple(items))


def write_project(base, revisions, up="up:", down="down:"):
    """Writes `base/env.py` and `base/versions/<file>` for `revisions`, an iterable of
    (rev, down_revisions, branch_labels, depends_on[, file name]); the file name defaults to
    `<rev>.py` (Alembic reads the folder in sorted file-name order, which orders its revision
    map); the markers are `<up><rev>` and `<down><rev>`. Returns `base`."""
    versions = os.path.join(base, "versions")
    os.makedirs(versions, exist_ok=True)
    with open(os.path.join(base, "env.py"), "w") as f:
        f.write(ENV_PY)
    for rev, downs, labels, depends, *file_name in revisions:
        name = (file_name and file_name[0]) or f"{rev}.py"
        with open(os.path.join(versions, name), "w") as f:
            f.write(
                VERSION.format(
                    rev=rev,
                    down=tuple_or_none(downs),
                    labels=tuple_or_none(labels),
                    depends=tuple_or_none(depends),
                    up=up,
                    down_mark=down,
                )
            )
    return base
