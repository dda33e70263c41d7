import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from ingest.limits import message_cap
from ingest.models import Upload
from ingest.readers import FileProblemError
from ingest.services.bills import bill_import
from ingest.services.problems import ImportRejectedError, progress_key
from ingest.services.upload_files import SourceFileGoneError, source_file_gone_message, upload_local_path
from ingest.services.usage import usage_import

logger = logging.getLogger(__name__)
SUPPORTED_KINDS = {Upload.Kind.BILL, Upload.Kind.USAGE, Upload.Kind.REVENUE}


class _HashingFile(File):
    """Hashes the content while storage copies it: one pass over a big file instead of two, each chunk
    hashed in a thread while storage writes it (both release the GIL). Object storage reads the file itself
    instead of its chunks (boto3's upload): then `hexdigest()` reads it once more, from the local copy."""

    DEFAULT_CHUNK_SIZE = 1 << 20

    def __init__(self, file, name):
        super().__init__(file, name)
        self.digest = hashlib.sha256()
        self.hashed_bytes = 0

    def hexdigest(self) -> str:
        if self.hashed_bytes != self.size:
            self.digest, self.hashed_bytes = hashlib.sha256(), 0
            for chunk in super().chunks():
                self._hash(chunk)
        return self.digest.hexdigest()

    def _hash(self, chunk) -> None:
        self.digest.update(chunk)
        self.hashed_bytes += len(chunk)

    def chunks(self, chunk_size=None):
        with ThreadPoolExecutor(max_workers=1) as hasher:
            hashed = None
            for chunk in super().chunks(chunk_size):
                if hashed is not None:
                    hashed.result()  # in order: the digest of the chunks as they come
                hashed = hasher.submit(self._hash, chunk)
                yield chunk
            if hashed is not None:
                hashed.result()


@transaction.atomic
def upload_create(
    *, org, file, kind: str, requested_format: str = "", mapping=None, created_by=None, enqueue: bool = True
) -> Upload:
    """A queued upload holding the file; its import starts as a task once the upload is committed."""
    if kind not in SUPPORTED_KINDS:
        raise ValidationError(f"Uploads of kind {kind!r} are not supported; use bill, usage or revenue.")
    if file.size > settings.INGEST_MAX_UPLOAD_BYTES:
        raise ValidationError(
            f"The file is {file.size / 2**30:.1f} GiB; the limit is "
            f"{settings.INGEST_MAX_UPLOAD_BYTES / 2**30:.0f} GiB. Compress it (gzip) or split it by month."
        )
    if file.size == 0:
        raise ValidationError("The file is empty.")
    if len(requested_format or "") > Upload._meta.get_field("requested_format").max_length:
        raise ValidationError(f"Unknown format {requested_format[:40]!r}…: no format has so long a name.")
    name = Path(file.name or "upload").name
    upload = Upload(
        org=org,
        kind=kind,
        requested_format=requested_format or "",
        mapping=mapping,
        original_name=name[:255],
        size_bytes=file.size,
        created_by=created_by,
    )
    hashing = _HashingFile(file, name)
    upload.file.save(name, hashing, save=False)
    upload.sha256 = hashing.hexdigest()
    upload.save()
    if enqueue:
        from ingest.tasks import upload_import as upload_import_task

        transaction.on_commit(lambda: upload_import_task.delay(upload.pk))
    return upload


def upload_create_from_path(*, org, path, **kwargs) -> Upload:
    """An upload from a file on this machine (the import_file command)."""
    with open(path, "rb") as handle:
        return upload_create(org=org, file=File(handle, name=Path(path).name), **kwargs)


def _claim(upload_id) -> bool:
    # A task redelivered after a worker died may find the upload stuck in processing; take it back
    # once the hard time limit has certainly passed.
    stale = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    claimable = Q(status=Upload.Status.QUEUED) | Q(status=Upload.Status.PROCESSING, started_at__lt=stale)
    return (
        Upload.objects.filter(claimable, pk=upload_id).update(
            status=Upload.Status.PROCESSING, started_at=timezone.now()
        )
        == 1
    )


def _importer(kind: str):
    if kind == Upload.Kind.USAGE:
        return usage_import
    if kind == Upload.Kind.REVENUE:
        # Stripe exports become Stripe objects in the pricing app, above this one: reached through settings.
        return import_string(settings.REVENUE_IMPORTER)
    return bill_import


def upload_run(*, upload_id: int, local_path: str | None = None) -> Upload | None:
    """Import a queued upload now and return it done or failed; None if another run holds it. `local_path`, a copy
    of the upload's file on this machine (a connector's pull), is read instead of fetching the stored file again."""
    if not _claim(upload_id):
        return None
    upload = Upload.objects.select_related("org", "mapping").get(pk=upload_id)
    if local_path is not None:
        upload._local_path = local_path
    try:
        with upload_local_path(upload):  # on object storage, the worker's copy of the file for the whole import
            _importer(upload.kind)(upload)
    except ImportRejectedError as exc:
        _fail(upload, exc.errors, exc.total)
    except (FileProblemError, SourceFileGoneError) as exc:
        _fail(upload, [{"row": None, "column": None, "message": message_cap(str(exc))}], 1)
    except Exception:
        logger.exception("import of upload %s crashed", upload.pk)
        message = "The import stopped on an internal error; nothing was loaded. We have logged it; please retry."
        _fail(upload, [{"row": None, "column": None, "message": message}], 1)
    finally:
        cache.delete(progress_key(upload))
    return upload


def _fail(upload, errors, total) -> None:
    upload.status = Upload.Status.FAILED
    upload.errors = errors
    upload.error_count = total
    upload.rows_loaded = 0
    upload.rows_replaced = 0
    upload.rows_duplicate = 0
    upload.totals = {}
    upload.finished_at = timezone.now()
    upload.save(
        update_fields=[
            "status",
            "errors",
            "error_count",
            "rows_loaded",
            "rows_replaced",
            "totals",
            "format",
            "finished_at",
        ]
    )


def upload_progress(upload) -> int | None:
    """Records read so far by an import in progress, or None when unknown."""
    return cache.get(progress_key(upload)) if upload.status == Upload.Status.PROCESSING else None


@transaction.atomic
def column_mapping_create(*, org, name: str, provider: str, currency: str, columns: dict):
    """A saved column mapping for one GPU cloud's CSV files."""
    from ingest.models import ColumnMapping

    if ColumnMapping.objects.for_org(org).filter(name=name.strip()).exists():
        raise ValidationError(f"A mapping called {name.strip()!r} already exists.")
    return ColumnMapping.objects.create(
        org=org, name=name.strip(), provider=provider.strip(), currency=currency.upper(), columns=columns
    )


def upload_reimport(*, org, upload, mapping, created_by) -> Upload:
    """A new upload of the same stored file, read through `mapping`; ValidationError once retention removed it."""
    if not upload.file.name:
        raise ValidationError(source_file_gone_message(upload))
    with upload.file.open("rb") as handle:
        return upload_create(
            org=org,
            file=File(handle, name=upload.original_name),
            kind=upload.kind,
            requested_format="mapped_csv",
            mapping=mapping,
            created_by=created_by,
        )
