"""Import a bill file into the cost ledger: all of it, atomically, or none of it.

The file streams record by record through its source plug-in into one `COPY` inside one
transaction. Any bad cell (or a file-level problem) rejects the whole file: the transaction
rolls back and the upload lists each error with its row and column. A clean file then
replaces, in the same transaction, whatever earlier uploads held for the same provider
account and billing period, so a restated bill or the same file sent twice never counts twice.
"""

from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from operator import itemgetter

import psycopg
from django.core.cache import cache
from django.db import DataError, transaction
from django.db.models import Max, Min, Q
from django.db.models.functions import Left
from django.utils import timezone

from finops.money import as_json
from ingest.models import BillPeriod, CostLine
from ingest.readers import Table, open_json_document, open_table, sniff_json_document
from ingest.selectors import column_mapping_list
from ingest.services.commitments import commitments_import
from ingest.services.days import dirty_days_mark
from ingest.services.focus_columnar import NotColumnarError, columnar_possible, focus_stream_columnar
from ingest.services.ledger_writer import LedgerWriter
from ingest.services.problems import ErrorList, ImportRejectedError, ParsedRows, progress_key
from ingest.services.tally import PERIOD_ACCOUNT_LENGTH, PERIOD_PROVIDER_LENGTH, Tally, days_covered, tags_columns
from ingest.services.upload_files import upload_file_path
from ingest.sources import BILL_SOURCES, SOURCES_BY_NAME, detect_source
from ingest.sources.base import COST_ROW_FIELDS
from ingest.sources.mapped_csv import MappedCsvSource
from ingest.sources.values import tags_items as _tags_items

PROGRESS_EVERY = 5000
_row_values = itemgetter(*COST_ROW_FIELDS)


def choose_source(upload, columns):
    """The source class for this upload: the format asked for, or the one the header matches."""
    if upload.requested_format:
        source = SOURCES_BY_NAME.get(upload.requested_format)
        if source is None or source.kind != upload.kind:
            raise ImportRejectedError.single(f"Unknown format {upload.requested_format!r} for a {upload.kind} file.")
        if source is MappedCsvSource and upload.mapping is None:
            raise ImportRejectedError.single("Choose a saved column mapping for this file, or create one.")
        if not source.detect(columns) and source is not MappedCsvSource:
            raise ImportRejectedError.single(
                f"This file does not look like {source.label}: its header has {_sample_columns(columns)}."
            )
        return source
    source = detect_source(columns, upload.kind)
    if source is None and upload.kind == "bill":
        upload.mapping = next(
            (m for m in column_mapping_list(org=upload.org) if MappedCsvSource.mapping_fits(m.columns, columns)), None
        )
        source = MappedCsvSource if upload.mapping else None
    if source is None:
        raise ImportRejectedError.single(
            f"We could not recognise the format from the header ({_sample_columns(columns)}). "
            "Pick the format, or map the columns of a GPU cloud invoice once and reuse the mapping.",
            row=1,
        )
    return source


def _sample_columns(columns) -> str:
    shown = ", ".join(str(c) for c in columns[:6])
    return shown + (f" and {len(columns) - 6} more" if len(columns) > 6 else "")


@contextmanager
def _bill_input(upload):
    """(table, source) for the upload: a table file with its detected source, or a JSON cost report."""
    if sniff_json_document(upload_file_path(upload)):
        document = open_json_document(upload_file_path(upload))
        wanted = [s for s in BILL_SOURCES if s.document and upload.requested_format in ("", s.name)]
        source_class = next((s for s in wanted if s.detect_document(document)), None)
        if source_class is None:
            raise ImportRejectedError.single(
                "This JSON file is not a cost report we know (OpenAI costs, Anthropic cost report). "
                "LLM usage files go in as kind=usage."
            )
        source = source_class(org_currency=upload.org.currency)
        yield Table([], source.records(document), "json"), source
        return
    with open_table(upload_file_path(upload)) as table:
        source_class = choose_source(upload, table.columns)
        options = {}
        if upload.mapping:
            mapping = upload.mapping
            options = {"columns": mapping.columns, "provider": mapping.provider, "account": f"mapping:{mapping.code}"}
            options["currency"] = mapping.currency
        yield table, source_class(org_currency=upload.org.currency, options=options)


def bill_import(upload) -> None:
    """Load the upload's bill file into the ledger; raises ImportRejectedError (nothing written) on any error."""
    errors = ErrorList()
    with _bill_input(upload) as (table, source):
        upload.format = source.name
        for column in source.missing_columns(table.columns):
            errors.add(
                1, column.split("|")[0], f"The header has no {column.replace('|', ' or ')} column; it is required."
            )
        errors.raise_if_any()
        if source.dataset == "contract_commitment":
            commitments_import(upload, table, source)
            return
        with transaction.atomic():
            tally = _stream_fast_or_rows(upload, table, source, errors)
            _replace_periods(upload, source, tally)
            upload.cost_basis = source.cost_basis
            upload.status = upload.Status.DONE
            upload.finished_at = timezone.now()
            upload.save()  # in the same transaction: the ledger and "done" appear together


def _stream_fast_or_rows(upload, table, source, errors) -> Tally:
    """Stream the file into the ledger, through the columnar path when the file allows it."""
    if columnar_possible(source, table):
        tally = Tally()
        try:
            with transaction.atomic():  # a savepoint: a refused attempt leaves nothing behind
                focus_stream_columnar(
                    upload, table, source, tally, tags_columns=_tags_from_text, progress_key=progress_key(upload)
                )
            return tally
        except (NotColumnarError, DataError, psycopg.DataError):
            pass  # a cell the database refused (a NUL character): the row path names its row and column
    tally = Tally()
    _stream(upload, table, source, errors, tally)
    return tally


def _tags_from_text(text: str) -> tuple:
    try:
        return tags_columns(_tags_items(text))
    except ValueError as exc:
        raise NotColumnarError("tags") from exc


def _stream(upload, table, source, errors, tally) -> None:
    written = 0
    head = (upload.org_id, upload.pk)
    rows = ParsedRows(table.records(), source, errors, lambda total: cache.set(progress_key(upload), total, 3600))
    with LedgerWriter() as writer:
        write = writer.write
        for number, row in rows:
            currency = row["currency"]
            if currency != tally.currency and not _currency_ok(currency, number, source, errors, tally):
                continue
            period_key = (row["provider"][:PERIOD_PROVIDER_LENGTH], row["billing_account_id"][:PERIOD_ACCOUNT_LENGTH],
                          row["billing_period_start"])  # fmt: skip
            if period_key not in tally.periods:
                tally.periods[period_key] = row["billing_period_end"]
            tags_json, *attributed = tags_columns(tuple(row["tags"].items()))
            row["tags"] = tags_json
            write((*head, number, *_row_values(row), *attributed))
            written += 1
            start = row["charge_period_start"]
            tally.totals[currency] = tally.totals.get(currency, Decimal(0)) + row["billed_cost_amount"]
            tally.days.update(days_covered(start, row["charge_period_end"]))
            if tally.first is None or start < tally.first:
                tally.first = start
            end = row["charge_period_end"] or start
            if tally.last is None or end > tally.last:
                tally.last = end
        if errors:
            raise errors.rejection()  # leave the COPY with an error: the server discards what it got
    upload.rows_total = rows.total
    upload.rows_loaded = written


def _currency_ok(currency, number, source, errors, tally) -> bool:
    """Accept the file's first currency; a malformed or second currency is an error at this row."""
    column = source.currency_column
    if len(currency) != 3 or not currency.isalpha():
        errors.add(number, column, f"{currency!r} is not a three-letter currency code")
        return False
    if tally.currency is not None:
        errors.add(
            number,
            column,
            f"This file mixes currencies ({tally.currency} from row {tally.currency_row}, {currency} here); "
            "upload one file per currency.",
        )
        return False
    tally.currency, tally.currency_row = currency, number
    return True


def _replace_periods(upload, source, tally) -> None:
    periods = []
    for (provider, account, start), end in sorted(tally.periods.items(), key=lambda item: str(item[0])):
        period, _ = BillPeriod.objects.select_for_update().get_or_create(
            org=upload.org,
            provider=provider,
            billing_account_id=account,
            billing_period_start=start,
            defaults={"billing_period_end": end},
        )
        periods.append(period)
    conflicts = [p for p in periods if p.cost_basis and source.cost_basis and p.cost_basis != source.cost_basis]
    if conflicts:
        names = ", ".join(str(p) for p in conflicts[:3])
        raise ImportRejectedError.single(
            f"This is an {source.cost_basis} cost file, but {names} was already loaded from an "
            f"{conflicts[0].cost_basis} cost file. Loading both would count the same spend twice; "
            f"delete that upload first or upload the {conflicts[0].cost_basis} file instead."
        )
    replaced = Q(pk__in=[])
    for period in periods:
        if period.upload_id and period.upload_id != upload.pk:
            replaced |= Q(
                upload_id=period.upload_id,
                period_provider=period.provider,
                period_account=period.billing_account_id,
                billing_period_start=period.billing_period_start,
            )
    older = (
        CostLine.objects.for_org(upload.org)
        .alias(  # a period's key is cut to its columns; the ledger keeps the whole value
            period_provider=Left("provider", PERIOD_PROVIDER_LENGTH),
            period_account=Left("billing_account_id", PERIOD_ACCOUNT_LENGTH),
        )
        .filter(replaced)
    )
    span = older.aggregate(first=Min("charge_period_start"), last=Max("charge_period_start"))
    if span["first"] is not None:
        day, last = span["first"].date(), span["last"].date()
        while day <= last:
            tally.days.add(day)
            day += timedelta(days=1)
    upload.rows_replaced, _ = older.delete()
    for period in periods:
        period.upload = upload
        period.cost_basis = source.cost_basis
    BillPeriod.objects.bulk_update(periods, ["upload", "cost_basis"])
    dirty_days_mark(org=upload.org, days=tally.days)
    upload.totals = {currency: as_json(total) for currency, total in sorted(tally.totals.items())}
    upload.period_start = tally.first
    upload.period_end = tally.last
