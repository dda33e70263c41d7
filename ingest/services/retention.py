"""Retention of source files: an upload's stored file goes SOURCE_FILE_RETENTION_DAYS after its import finished.

Only the file goes. The Upload row stays with its totals, errors and format, and the ledger keeps every row it loaded
with its source row number (the trace from a number back to the line of the file it came from, even once the file
itself is gone); an empty file name marks the removal, so the trace page can say so."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from ingest.models import Upload

logger = logging.getLogger(__name__)
BATCH = 500


def upload_files_expire(*, now: datetime | None = None, days: int | None = None) -> int:
    """Delete the stored files of uploads (every organisation) whose import finished more than `days`
    (SOURCE_FILE_RETENTION_DAYS) ago and clear their file name; returns how many files went. 0 days keeps all."""
    days = settings.SOURCE_FILE_RETENTION_DAYS if days is None else days
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    finished = (Upload.Status.DONE, Upload.Status.FAILED)
    # A cross-organisation sweep, like the other purges: each row is touched by its own id only.
    due = Upload.objects.filter(status__in=finished, finished_at__lt=cutoff).exclude(file="")
    storage, removed = Upload._meta.get_field("file").storage, 0
    for upload_id, name in due.values_list("id", "file").iterator(chunk_size=BATCH):
        try:
            storage.delete(name)  # a file already missing is not an error (both storages)
        except Exception:
            logger.exception("could not delete the source file of upload %s; kept for the next run", upload_id)
            continue
        # Cleared only if nothing changed the name meanwhile; a rerun after a crash deletes nothing twice.
        removed += Upload.objects.filter(id=upload_id, file=name).update(file="")
    return removed
