"""The one shape of a bill source plug-in (CONVENTIONS.md 10).

A source is a class that recognises its format from the header (`detect`) and turns one
input record (a dict of column name to cell) into one normalised cost row (`parse`), or
None for a record that carries no charge. Bad cells raise `values.CellError`; the importer
records the row and column and rejects the whole file. The importer owns files, batching,
writing, totals and idempotency; a source only knows its columns.

To add a source: copy a sibling module and its test, add the class to `ingest/sources/__init__.py`.
"""

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

# Every key a normalised cost row carries. Amounts are Decimal, times aware UTC datetimes,
# quantities Decimal or None, text '' when absent, tags a dict of normalised keys.
COST_ROW_FIELDS = (
    "provider",
    "billing_account_id",
    "billing_account_name",
    "sub_account_id",
    "sub_account_name",
    "billing_period_start",
    "billing_period_end",
    "charge_period_start",
    "charge_period_end",
    "charge_category",
    "charge_class",
    "charge_frequency",
    "charge_description",
    "region",
    "service_name",
    "service_category",
    "resource_id",
    "resource_name",
    "resource_type",
    "sku_id",
    "gpu_type",
    "pricing_quantity",
    "pricing_unit",
    "consumed_quantity",
    "consumed_unit",
    "billed_cost_amount",
    "effective_cost_amount",
    "list_cost_amount",
    "currency",
    "commitment_discount_id",
    "commitment_discount_status",
    "commitment_discount_type",
    "tags",
)


def cost_row(
    *,
    provider="",
    billing_account_id="",
    billing_account_name="",
    sub_account_id="",
    sub_account_name="",
    billing_period_start,
    billing_period_end=None,
    charge_period_start,
    charge_period_end=None,
    charge_category,
    charge_class="",
    charge_frequency="",
    charge_description="",
    region="",
    service_name="",
    service_category="",
    resource_id="",
    resource_name="",
    resource_type="",
    sku_id="",
    gpu_type="",
    pricing_quantity=None,
    pricing_unit="",
    consumed_quantity=None,
    consumed_unit="",
    billed_cost_amount,
    effective_cost_amount,
    list_cost_amount=None,
    currency,
    commitment_discount_id="",
    commitment_discount_status="",
    commitment_discount_type="",
    tags=None,
) -> dict:
    """One normalised cost row (keys COST_ROW_FIELDS, in order): a parser names the fields its format has and
    the rest take their blank defaults ('' for text, None for optional times and quantities, no tags). The
    required ones have no default; a misspelt field is a TypeError."""
    return {
        "provider": provider,
        "billing_account_id": billing_account_id,
        "billing_account_name": billing_account_name,
        "sub_account_id": sub_account_id,
        "sub_account_name": sub_account_name,
        "billing_period_start": billing_period_start,
        "billing_period_end": billing_period_end,
        "charge_period_start": charge_period_start,
        "charge_period_end": charge_period_end,
        "charge_category": charge_category,
        "charge_class": charge_class,
        "charge_frequency": charge_frequency,
        "charge_description": charge_description,
        "region": region,
        "service_name": service_name,
        "service_category": service_category,
        "resource_id": resource_id,
        "resource_name": resource_name,
        "resource_type": resource_type,
        "sku_id": sku_id,
        "gpu_type": gpu_type,
        "pricing_quantity": pricing_quantity,
        "pricing_unit": pricing_unit,
        "consumed_quantity": consumed_quantity,
        "consumed_unit": consumed_unit,
        "billed_cost_amount": billed_cost_amount,
        "effective_cost_amount": effective_cost_amount,
        "list_cost_amount": list_cost_amount,
        "currency": currency,
        "commitment_discount_id": commitment_discount_id,
        "commitment_discount_status": commitment_discount_status,
        "commitment_discount_type": commitment_discount_type,
        "tags": {} if tags is None else tags,
    }


class BillSource:
    """Base class of bill sources; subclasses set the class attributes and implement detect/parse."""

    name: ClassVar[str] = ""
    """The format name users pass and uploads record, e.g. "focus"; unique across sources."""
    label: ClassVar[str] = ""
    """The format as users read it (format choices, help text, errors), e.g. "FOCUS 1.0–1.3"."""
    short_label: ClassVar[str] = ""
    """The format in the lists of formats pages show ("AWS CUR"); "" leaves it out (listed under a sibling)."""
    kind: ClassVar[str] = "bill"
    """"bill" (cost lines into the ledger) or "usage" (LLM calls); an upload's kind picks the sources tried."""
    required_columns: ClassVar[tuple[str, ...]] = ()
    """Columns a file must have, "A|B" for either; a file missing one is rejected naming it."""
    document: ClassVar[bool] = False
    """True for formats that are one JSON document (provider report pages) rather than a table."""
    dataset: ClassVar[str] = "cost_and_usage"
    """What the rows are: "cost_and_usage" (ledger lines) or "contract_commitment" (FOCUS 1.3 commitments)."""
    currency_column: str = "currency"
    """The column the importer names in a currency error; a source that finds it in the header sets it per file."""

    def __init__(self, *, org_currency: str, options: Mapping[str, Any] | None = None):
        self.org_currency = org_currency
        """The organisation's currency: the default for a file or row that names none."""
        self.options = dict(options or {})
        """Per-upload settings (a saved mapping's columns, provider, account and currency)."""
        self.cost_basis = ""
        """"actual" or "amortised" where the source can tell (Azure exports); "" otherwise."""

    @classmethod
    def detect(cls, columns: Sequence[str]) -> bool:
        """True when a header with these column names is this source's format (never, for a document)."""
        if cls.document:
            return False
        raise NotImplementedError

    @classmethod
    def detect_document(cls, document) -> bool:
        """For document formats: True when this parsed JSON document is this source's format."""
        return False

    def records(self, document):
        """For document formats: (item number, record) for each record of the parsed document."""
        raise NotImplementedError

    def missing_columns(self, columns: Sequence[str]) -> list[str]:
        """Required columns the header lacks (each alternative group counts once)."""
        present = set(columns)
        return [c for c in self.required_columns if not any(alt in present for alt in c.split("|"))]

    def parse(self, record: Mapping[str, Any]) -> dict | None:
        """One normalised cost row (keys COST_ROW_FIELDS) from one record, or None to skip it."""
        raise NotImplementedError
