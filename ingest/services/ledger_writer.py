"""Write normalised cost rows into the ledger inside the caller's transaction.

Rows are buffered and written in batches: on PostgreSQL each batch is one `COPY ... FROM
STDIN` through psycopg 3, elsewhere (the SQLite demo) a bulk insert. Between batches the
billing periods the batch refers to are looked up or created (no other query may run on a
connection while a COPY is open). Nothing is visible to anyone else until the caller's
transaction commits, so a rejected file leaves no trace.
"""

import json

from django.db import connection

from ingest.models import CostLine
from ingest.sources.base import COST_ROW_FIELDS
from ingest.sources.values import ATTRIBUTION_KEYS

LEDGER_COLUMNS = ("org_id", "upload_id", "period_id", "source_row", *COST_ROW_FIELDS, *ATTRIBUTION_KEYS)
BATCH_ROWS = 10_000


class LedgerWriter:
    """`write(period_key, values)` buffers one row; `values` is LEDGER_COLUMNS after period_id.

    `period_ids(keys)` is called before each batch is written and must return {key: period id}.
    """

    def __init__(self, *, org_id: int, upload_id: int, period_ids):
        self.head = (org_id, upload_id)
        self.period_ids = period_ids
        self.known = {}
        self.buffer = []
        self.written = 0
        self.copy_sql = (
            f"COPY {CostLine._meta.db_table} ({', '.join(LEDGER_COLUMNS)}) FROM STDIN"
            if connection.vendor == "postgresql"
            else None
        )

    def write(self, period_key, values: tuple) -> None:
        self.buffer.append((period_key, values))
        if len(self.buffer) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        new_keys = {key for key, _ in self.buffer if key not in self.known}
        if new_keys:
            self.known.update(self.period_ids(new_keys))
        org_id, upload_id = self.head
        known = self.known
        if self.copy_sql:
            with connection.cursor() as cursor, cursor.cursor.copy(self.copy_sql) as copy:
                for key, values in self.buffer:
                    copy.write_row((org_id, upload_id, known[key], *values))
        else:
            lines = []
            for key, values in self.buffer:
                fields = dict(zip(LEDGER_COLUMNS, (org_id, upload_id, known[key], *values), strict=True))
                fields["tags"] = json.loads(fields["tags"])
                lines.append(CostLine(**fields))
            CostLine.objects.bulk_create(lines, batch_size=1000)
        self.written += len(self.buffer)
        self.buffer = []
