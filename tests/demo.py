"""The demo organisation for tests, built once per test session and copied back in for each test that asks.

Building "Demo AI" runs six weeks of bills, usage logs, agent batches and Stripe revenue through the real import
paths (about 15 seconds); a dozen tests read it. The first `demo_org()` of a session builds it with the real
`demo_org_recreate()` and keeps the rows the build added (PostgreSQL `COPY ... TO STDOUT`, binary); each later call
copies those rows back in (`COPY ... FROM STDIN`) inside the caller's transaction, in about a second, and forgets the
organisation's cached-read versions so no read answers from what an earlier test left in the cache. The rows keep
their ids: sequences never go back (rollbacks and flushes do not reset them), so no row a test makes can collide.
On SQLite (no COPY) every call builds it anew.

Under pytest-xdist the first worker to build it also leaves the snapshot in the run's folder (`SHARED_DIR`, made by
tests/conftest.py), and a worker without a snapshot of its own takes that one instead of building the demo again. So
that its rows fit any worker's database, the build takes its ids from `FIRST_ID` on, past every row made before it,
and a worker taking the snapshot moves its sequences past the snapshot's ids before copying any row in.
"""

import functools
import os
import pickle
from pathlib import Path

from django.apps import apps
from django.db import connection, transaction
from psycopg import sql

from accounts.read_cache import org_versions_forget
from finops.services.demo import demo_org_recreate

SHARED_DIR = "FINOPS_TESTS_SHARED_DIR"  # the environment variable naming the folder the workers of one run share
FIRST_ID = 100_000_000  # below the largest integer id (2**31 - 1), far above any id the tests reach otherwise
_snapshot: dict = {}


def demo_org() -> dict:
    """{org, login, password, api_key} of a demo organisation in the current database, as `demo_org_recreate()`."""
    if connection.vendor != "postgresql":
        return demo_org_recreate()
    if not _snapshot:
        _snapshot_of_another_worker()
    if not _snapshot:
        return demo_org_built(demo_org_recreate)
    with transaction.atomic(), connection.cursor() as cursor:  # foreign keys are checked at the end (deferred)
        for table, data in _snapshot["rows"]:
            with cursor.cursor.copy(
                sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(sql.Identifier(table), _columns(table))
            ) as copy:
                copy.write(data)
        cursor.execute("SELECT id FROM accounts_organization WHERE code = %s", [_snapshot["demo"]["org"]])
        org_id = cursor.fetchone()[0]
    org_versions_forget(org_id)
    return dict(_snapshot["demo"])


def demo_org_built(build) -> dict:
    """Run `build` (the real `demo_org_recreate`, or the `demo` command that calls it) and, when this session has no
    snapshot yet, keep the rows it added as the snapshot later `demo_org()` calls copy back in."""
    if _snapshot or connection.vendor != "postgresql":
        return build()
    _sequences_past(dict.fromkeys(_tables(), FIRST_ID - 1))
    before = _max_ids()
    demo = build()
    after = _max_ids()
    rows = _rows_after(before, after)
    if _owner_added(rows, demo):  # a demo owner that already existed would be missing from the copy
        _snapshot.update(demo=demo, rows=rows, top=after)
        _share(_snapshot)
    return demo


def _shared_file() -> Path | None:
    folder = os.environ.get(SHARED_DIR)
    return Path(folder) / "demo-snapshot.pickle" if folder and os.environ.get("PYTEST_XDIST_WORKER") else None


def _share(snapshot: dict) -> None:
    path = _shared_file()
    if path is not None and not path.exists():
        part = path.with_name(f"{path.name}.{os.getpid()}")
        part.write_bytes(pickle.dumps(snapshot, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(part, path)  # whole or absent to a reader


def _snapshot_of_another_worker() -> None:
    path = _shared_file()
    if path is not None and path.exists():
        snapshot = pickle.loads(path.read_bytes())  # noqa: S301 - written by this run's own workers
        _sequences_past(snapshot["top"])
        _snapshot.update(snapshot)


def _sequences_past(top: dict) -> None:
    """Move each table's id sequence to at least `top[table]`, never back (setval outlives a rollback)."""
    values = sql.SQL(", ").join(sql.SQL("({}, {})").format(sql.Literal(t), sql.Literal(n)) for t, n in top.items() if n)
    query = sql.SQL(
        "SELECT setval(seq, GREATEST(top, COALESCE(pg_sequence_last_value(seq), 0))) FROM (SELECT"
        " pg_get_serial_sequence(quote_ident(name), 'id')::regclass AS seq, top FROM (VALUES {}) v (name, top)) s"
    ).format(values)
    with connection.cursor() as cursor:
        cursor.cursor.execute(query)


def _tables() -> list[str]:
    """Every table of the project with an integer id (a session or an axes expiry is never part of the demo)."""
    return sorted(_models())


@functools.cache
def _models() -> dict:
    """{table: model} of the tables _tables names."""
    return {
        model._meta.db_table: model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy and model._meta.pk.get_internal_type().endswith("AutoField")
    }


def _columns(table: str) -> sql.Composed:
    """The columns of a table that a row is written with (not those the database computes: generated fields), in
    the order they are copied out and back in."""
    fields = _models()[table]._meta.concrete_fields
    return sql.SQL(", ").join(sql.Identifier(f.column) for f in fields if not f.generated)


def _max_ids() -> dict:
    tables = _tables()
    query = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {}, MAX(id) FROM {}").format(sql.Literal(t), sql.Identifier(t)) for t in tables
    )
    with connection.cursor() as cursor:
        cursor.cursor.execute(query)
        return {table: top or 0 for table, top in cursor.cursor.fetchall()}


def _rows_after(before: dict, after: dict) -> list[tuple[str, bytes]]:
    """(table, its rows added between `before` and `after` in COPY's binary format) of each table that gained rows."""
    rows = []
    with connection.cursor() as cursor:
        for table in sorted(t for t in after if after[t] > before.get(t, 0)):
            query = sql.SQL("COPY (SELECT {} FROM {} WHERE id > {}) TO STDOUT (FORMAT BINARY)").format(
                _columns(table), sql.Identifier(table), sql.Literal(before.get(table, 0))
            )
            with cursor.cursor.copy(query) as copy:
                rows.append((table, b"".join(bytes(block) for block in copy)))
    return rows


def _owner_added(rows: list, demo: dict) -> bool:
    tables = {table for table, _ in rows}
    return {"accounts_organization", "accounts_user", "accounts_membership"} <= tables
