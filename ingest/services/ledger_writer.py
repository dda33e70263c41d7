"""Write normalised cost rows into the ledger inside the caller's transaction.

On PostgreSQL the whole file is one `COPY ... FROM STDIN` through psycopg 3, fed by a writer
thread so the server stores rows while Python parses the next ones; elsewhere (the SQLite
demo) rows go in batched inserts. Nothing is visible to anyone else until the caller's
transaction commits, so a rejected file leaves no trace.
"""

import json

from django.db import connection
from psycopg.copy import QueuedLibpqWriter

from ingest.models import CostLine
from ingest.sources.base import COST_ROW_FIELDS
from ingest.sources.values import ATTRIBUTION_KEYS

LEDGER_COLUMNS = ("org_id", "upload_id", "source_row", *COST_ROW_FIELDS, *ATTRIBUTION_KEYS)
BATCH_ROWS = 2000


class LedgerWriter:
    """Context manager; `write(values)` takes one row in LEDGER_COLUMNS order."""

    def __enter__(self):
        self.written = 0
        if connection.vendor == "postgresql":
            columns = ", ".join(LEDGER_COLUMNS)
            self._cursor = connection.cursor()
            raw = self._cursor.cursor
            self._copy_context = raw.copy(
                f"COPY {CostLine._meta.db_table} ({columns}) FROM STDIN", writer=QueuedLibpqWriter(raw)
            )
            copy = self._copy_context.__enter__()
            self.write = copy.write_row
        else:
            self._batch = []
            self.write = self._write_batch
        return self

    def _write_batch(self, values: tuple) -> None:
        self._batch.append(values)
        if len(self._batch) >= BATCH_ROWS:
            self._flush()

    def _flush(self) -> None:
        lines = []
        for values in self._batch:
            fields = dict(zip(LEDGER_COLUMNS, values, strict=True))
            fields["tags"] = json.loads(fields["tags"])
            lines.append(CostLine(**fields))
        CostLine.objects.bulk_create(lines)
        self._batch = []

    def __exit__(self, exc_type, exc, tb):
        if connection.vendor == "postgresql":
            try:
                self._copy_context.__exit__(exc_type, exc, tb)
            finally:
                self._cursor.close()
        elif exc_type is None:
            self._flush()
        return False
