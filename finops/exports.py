"""CSV exports, streamed: rows are written as they are read, so an export of a million rows never sits in memory;
text that a spreadsheet would run as a formula is escaped."""

import csv
from decimal import Decimal

from django.http import StreamingHttpResponse

from finops.money import as_json

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """A file whose write returns the line, for csv.writer inside a generator."""

    def write(self, value):
        return value


def csv_cell(value) -> str:
    """One cell: money at storage precision, None as empty (unknown), text starting like a formula after a quote."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return as_json(value)
    if isinstance(value, bool | int | float):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_response(filename: str, header: list, rows) -> StreamingHttpResponse:
    """A streamed CSV download of `header` then `rows` (an iterable of lists, read lazily)."""
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow([csv_cell(h) for h in header])
        for row in rows:
            yield writer.writerow([csv_cell(v) for v in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def explore_groups_csv(result: dict, group_by: tuple, filename: str) -> StreamingHttpResponse:
    """The explorer's groups as CSV: one row per group, then the total, as the table shows them."""
    header = [*group_by, "amount", "previous", "change", "currency"]
    currency = result["currency"]

    def rows():
        for group in result["groups"]:
            yield [*(group[d] for d in group_by), group["amount"], group["previous"], group["change"], currency]
        yield ["Total", *([""] * max(len(group_by) - 1, 0)), result["total"], result["previous_total"],
               result["change"], currency]  # fmt: skip

    return csv_response(filename, header, rows())


LINE_COLUMNS = ("kind", "day", "at", "amount", "currency", "provider", "service", "resource", "model", "customer",
                "feature", "environment", "quantity", "unit", "upload", "upload_name", "source_row")  # fmt: skip


def explore_lines_csv(lines, filename: str) -> StreamingHttpResponse:
    """The explorer's source rows as CSV (read lazily from `lines`), then a total per currency of the known amounts."""

    def rows():
        totals = {}
        for line in lines:
            if line["amount"] is not None:
                totals[line["currency"]] = totals.get(line["currency"], Decimal(0)) + line["amount"]
            yield [line[c] for c in LINE_COLUMNS]
        for currency, total in sorted(totals.items()):
            yield ["Total", "", "", total, currency, *([""] * (len(LINE_COLUMNS) - 5))]

    return csv_response(filename, list(LINE_COLUMNS), rows())
