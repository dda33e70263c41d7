"""The demo organisation for tests, built once per test session and copied back in for each test that asks.

Building "Demo AI" runs six weeks of bills, usage logs, agent batches and Stripe revenue through the real import
paths (about 15 seconds); a dozen tests read it. The first `demo_org()` of a session builds it with the real
`demo_org_recreate()` and keeps the rows the build added (PostgreSQL `COPY ... TO STDOUT`, binary); each later call
copies those rows back in (`COPY ... FROM STDIN`) inside the caller's transaction, in about a second, and forgets the
organisation's cached-read versions so no read answers from what an earlier test left in the cache. The rows keep
their ids: sequences never go back (rollbacks and flushes do not reset them), so no row a test makes can collide.
On SQLite (no COPY) every call builds it anew.
"""

from django.apps import apps
from django.db import connection, transaction
from psycopg import sql

from accounts.read_cache import org_versions_forget
from finops.services.demo import demo_org_recreate

_snapshot: dict = {}


def demo_org() -> dict:
    """{org, login, password, api_key} of a demo organisation in the current database, as `demo_org_recreate()`."""
    if connection.vendor != "postgresql":
        return demo_org_recreate()
    if not _snapshot:
        return demo_org_built(demo_org_recreate)
    with transaction.atomic(), connection.cursor() as cursor:  # foreign keys are checked at the end (deferred)
        for table, data in _snapshot["rows"]:
            with cursor.cursor.copy(
                sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(sql.Identifier(table))
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
    before = _max_ids()
    demo = build()
    rows = _rows_after(before, _max_ids())
    if _owner_added(rows, demo):  # a demo owner that already existed would be missing from the copy
        _snapshot.update(demo=demo, rows=rows)
    return demo


def _tables() -> list[str]:
    """Every table of the project with an integer id (a session or an axes expiry is never part of the demo)."""
    return sorted(
        model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy and model._meta.pk.get_internal_type().endswith("AutoField")
    )


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
            query = sql.SQL("COPY (SELECT * FROM {} WHERE id > {}) TO STDOUT (FORMAT BINARY)").format(
                sql.Identifier(table), sql.Literal(before.get(table, 0))
            )
            with cursor.cursor.copy(query) as copy:
                rows.append((table, b"".join(bytes(block) for block in copy)))
    return rows


def _owner_added(rows: list, demo: dict) -> bool:
    tables = {table for table, _ in rows}
    return {"accounts_organization", "accounts_user", "accounts_membership"} <= tables
