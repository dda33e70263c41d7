"""Errors of an import, each with the row and column a founder can find in the file."""

from django.conf import settings

from ingest.limits import message_cap, row_problem
from ingest.sources.values import CellError


def progress_key(upload) -> str:
    """The cache key where an import in progress records how many records it has read."""
    return f"ingest:progress:{upload.pk}"


class ImportRejectedError(Exception):
    """The file is rejected whole; `errors` lists why, as [{row, column, message}]."""

    def __init__(self, errors: list[dict], total: int | None = None):
        errors = [{**error, "message": message_cap(error["message"])} for error in errors[: settings.INGEST_MAX_ERRORS]]
        super().__init__(errors[0]["message"] if errors else "rejected")
        self.errors = errors
        self.total = total if total is not None else len(errors)

    @classmethod
    def single(cls, message: str, row: int | None = None, column: str | None = None):
        return cls([{"row": row, "column": column, "message": message}])


class ErrorList:
    """Collects row errors up to INGEST_MAX_ERRORS and counts the rest."""

    def __init__(self):
        self.items = []
        self.total = 0
        self.limit = settings.INGEST_MAX_ERRORS

    def add(self, row: int | None, column: str | None, message: str) -> None:
        self.total += 1
        if len(self.items) < self.limit:
            column = column if column is None else message_cap(column)
            self.items.append({"row": row, "column": column, "message": message_cap(message)})

    @property
    def full(self) -> bool:
        return self.total >= self.limit

    def __bool__(self) -> bool:
        return self.total > 0

    def rejection(self) -> ImportRejectedError:
        return ImportRejectedError(self.items, self.total)

    def raise_if_any(self) -> None:
        if self.total:
            raise self.rejection()


NET_KINDS = ("bill", "usage")  # the ledgers ingest/limits.py guards (revenue rows are the pricing app's)


class ParsedRows:
    """Iterates (row number, normalised row) over a source's good records; bad ones go to `errors`.

    Once one record is bad the file is rejected, so no more rows are yielded, but reading goes on
    (to the error cap) to report every problem in one go. `total` counts the records read.
    """

    def __init__(self, records, source, errors: ErrorList, progress=None):
        self.records, self.source, self.errors, self.progress = records, source, errors, progress
        self.total = 0

    def __iter__(self):
        errors, parse, kind = self.errors, self.source.parse, self.source.kind
        for number, record in self.records:
            self.total += 1
            if self.progress and self.total % 5000 == 0:
                self.progress(self.total)
            if "__error__" in record:
                errors.add(number, None, record["__error__"])
                continue
            try:
                row = parse(record)
            except CellError as exc:
                errors.add(number, exc.column, exc.message)
                if errors.full:
                    return
                continue
            problem = row is not None and kind in NET_KINDS and row_problem(row, kind)
            if problem:  # a value the source passed (or worked out) that we cannot store or sum
                errors.add(number, *problem)
                if errors.full:
                    return
                continue
            if row is not None and not errors:
                yield number, row
