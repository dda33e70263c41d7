"""Errors of an import, each with the row and column a founder can find in the file."""

from django.conf import settings


class ImportRejectedError(Exception):
    """The file is rejected whole; `errors` lists why, as [{row, column, message}]."""

    def __init__(self, errors: list[dict], total: int | None = None):
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
            self.items.append({"row": row, "column": column, "message": message})

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
