"""An upload's stored file as a path the readers can open, wherever the storage keeps it.

On the local disk that is the file itself. On object storage (STORAGE_URL) the object is streamed into a temporary
file on the worker, which goes when the import ends: web, worker and beat share the bucket, not a disk. The readers
need a real path: Arrow memory-maps Parquet and reads CSV from it, and the sniffers peek at its first bytes."""

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import PurePosixPath

from django.conf import settings

COPY_CHUNK_BYTES = 1 << 20


class SourceFileGoneError(Exception):
    """The upload's source file is no longer stored (removed after SOURCE_FILE_RETENTION_DAYS)."""


def source_file_gone_message(upload, then: str = "Upload the file again to read it anew.") -> str:
    """What to tell someone who needs the file of an upload whose file was removed, ending with what to do."""
    days = settings.SOURCE_FILE_RETENTION_DAYS
    after = f" after {days} days" if days else ""
    return (
        f"The source file of this upload ({upload.original_name or 'unnamed'}) was removed{after} (retention); "
        f"its rows and their source row numbers remain. {then}"
    )


@contextmanager
def upload_local_path(upload):
    """Yields a local path holding the upload's file: the stored file itself when the storage has paths, else a
    temporary copy removed on exit. Within it, `upload_file_path(upload)` (the readers' way in, from anywhere in
    the import) answers the same path, so the file is fetched once. Raises SourceFileGoneError when the file was
    removed by retention, FileNotFoundError when it is missing."""
    held = getattr(upload, "_local_path", None)
    if held is not None:
        yield held
        return
    name = upload.file.name
    if not name:
        raise SourceFileGoneError(source_file_gone_message(upload))
    storage = upload.file.storage
    path = _storage_path(storage, name)
    if path is not None:
        yield path
        return
    # The suffixes matter to nothing that sniffs content, but keep them (.csv.gz, .parquet) for whoever looks.
    suffix = "".join(s for s in PurePosixPath(name).suffixes[-2:] if len(s) <= 10)
    with tempfile.TemporaryDirectory(prefix="upload-", dir=settings.FILE_UPLOAD_TEMP_DIR) as folder:
        path = os.path.join(folder, "source" + suffix)
        with open(path, "wb") as target:
            _download(storage, name, target)
        upload._local_path = path
        try:
            yield path
        finally:
            del upload._local_path


def upload_file_path(upload) -> str:
    """The local path of the upload's file: the copy `upload_local_path(upload)` holds, or the stored file itself on
    the local disk. On object storage, outside upload_local_path, there is none: RuntimeError."""
    held = getattr(upload, "_local_path", None)
    if held is not None:
        return held
    if not upload.file.name:
        raise SourceFileGoneError(source_file_gone_message(upload))
    path = _storage_path(upload.file.storage, upload.file.name)
    if path is None:
        raise RuntimeError("The upload's file is on object storage: read it inside upload_local_path(upload).")
    return path


def _storage_path(storage, name) -> str | None:
    try:
        return storage.path(name)
    except NotImplementedError:  # object storage: no path on this machine
        return None


def _download(storage, name, target) -> None:
    if not storage.exists(name):
        raise FileNotFoundError(f"{name} is not in the storage")
    with storage.open(name, "rb") as remote:
        obj = getattr(remote, "obj", None)  # django-storages' S3 file: boto3's ranged download, straight to disk
        if obj is not None and hasattr(obj, "download_fileobj"):
            obj.download_fileobj(target)
        else:
            shutil.copyfileobj(remote, target, COPY_CHUNK_BYTES)
