"""Stripe dashboard exports (customers, subscriptions, itemised invoices) read into Stripe API objects.

Each export is a source plug-in of the ingest shape (CONVENTIONS.md 10): `detect(columns)` recognises the
header, `missing_columns()` names the required columns a file lacks, `parse(record)` turns one row into a
normalised row and raises `values.CellError` for a bad cell. `objects(rows, errors)` then groups the rows (a
subscription's items, an invoice's line items) into the dicts the Stripe API returns, in minor units and
epoch seconds, so a CSV import stores through the same upserts as the sync and the webhooks
(`pricing/services/stripe_csv.py`). Nothing here touches the database.

Column names match case-insensitively, any run of spaces counting as one; each field accepts the names
Stripe's exports have used (docs/stripe-csv.md). Amounts are major units as decimal text ("49.00"; "5000"
for yen), times UTC ("2026-11-01 10:00"). Columns named "<key> (metadata)" become the object's metadata.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from finops.money import minor_unit_exponent
from ingest.sources import values
from ingest.sources.values import CellError

METADATA_COLUMN = re.compile(r"^(?P<key>.+?)\s*\(metadata\)$", re.IGNORECASE)
INTERVAL = re.compile(r"^(?:every\s+)?(?P<count>\d+)?\s*(?P<unit>day|week|month|year)s?$")
INTERVAL_WORDS = {"daily": "day", "weekly": "week", "monthly": "month", "yearly": "year", "annually": "year",
                  "annual": "year", "quarterly": ("month", 3)}  # fmt: skip
SUBSCRIPTION_STATUSES = frozenset(
    {"active", "trialing", "past_due", "canceled", "unpaid", "incomplete", "incomplete_expired", "paused"}
)
INVOICE_STATUSES = frozenset({"draft", "open", "paid", "uncollectible", "void"})
TRUE, FALSE = frozenset({"true", "yes", "y", "1", "t"}), frozenset({"false", "no", "n", "0", "f"})


def column_key(name: str) -> str:
    """How a header name is compared: lower case, spaces collapsed."""
    return " ".join(str(name).split()).lower()


@dataclass
class Exported:
    """One Stripe object read from the file: the API-shaped dict, the rows it came from, and the moments the
    rows show happening (the import stores it as of the latest of them)."""

    kind: str  # customer, subscription or invoice
    obj: dict
    rows: list = field(default_factory=list)
    moments: list = field(default_factory=list)
    first: dict | None = None  # the first row, which the others must agree with


MAX_AMOUNT = Decimal("1e10")


def epoch(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def minor_units(amount: Decimal | None, currency: str):
    """A major-unit amount in Stripe's minor units: an int, or a decimal string below the minor unit."""
    if amount is None:
        return None
    scaled = amount.scaleb(minor_unit_exponent(currency))
    return int(scaled) if scaled == scaled.to_integral_value() else f"{scaled.normalize():f}"


class StripeExport:
    """Base class: subclasses name their fields (our name -> accepted column names, preferred first)."""

    name: ClassVar[str]
    label: ClassVar[str]
    kind: ClassVar[str] = "revenue"
    fields: ClassVar[dict[str, tuple[str, ...]]]
    required: ClassVar[tuple[str, ...]]

    def __init__(self, columns):
        by_key = {}
        for column in columns:
            by_key.setdefault(column_key(column), column)
        self.columns = {
            name: next((by_key[column_key(a)] for a in aliases if column_key(a) in by_key), None)
            for name, aliases in self.fields.items()
        }
        self.metadata_columns = {
            column: match.group("key").strip() for column in columns if (match := METADATA_COLUMN.match(column))
        }

    @classmethod
    def _keys(cls, columns) -> set:
        return {column_key(c) for c in columns}

    @classmethod
    def _has(cls, keys: set, name: str) -> bool:
        return any(column_key(a) in keys for a in cls.fields[name])

    def missing_columns(self) -> list[str]:
        """The required fields the header has no column for, each by its first accepted name."""
        return [self.fields[name][0] for name in self.required if self.columns[name] is None]

    def describe(self, name: str) -> str:
        return " or ".join(self.fields[name])

    # Cells. A field the file has no column for reads as empty.

    def text(self, record, name: str) -> str:
        column = self.columns[name]
        return values.text(record, column) if column else ""

    def required_text(self, record, name: str, what: str) -> str:
        value = self.text(record, name)
        if not value:
            raise CellError(self.columns[name], f"{self.columns[name]} is empty; {what}")
        return value

    def amount(self, record, name: str, *, required: bool = False) -> Decimal | None:
        column = self.columns[name]
        # Up to what the money columns hold (finops.money): revenue is not summed into the cost rollups.
        return values.decimal(record, column, required=required, limit=MAX_AMOUNT) if column else None

    def moment(self, record, name: str) -> datetime | None:
        column = self.columns[name]
        # Periods, trials and due dates lie ahead: the wide window of a period's end (ingest.limits).
        return values.timestamp(record, column, end=True) if column else None

    def count(self, record, name: str) -> int | None:
        number = self.amount(record, name)
        if number is None:
            return None
        if number < 0 or number != number.to_integral_value():
            raise CellError(self.columns[name], f"{self.columns[name]} must be a whole number: {number}")
        return int(number)

    def flag(self, record, name: str) -> bool:
        value = self.text(record, name).lower()
        if value and value not in TRUE | FALSE:
            raise CellError(self.columns[name], f"{self.columns[name]} must be true or false: {value[:20]!r}")
        return value in TRUE

    def currency(self, record, name: str = "currency", *, required: bool = True) -> str:
        value = self.text(record, name).upper()
        if not value and not required:
            return ""
        if len(value) != 3 or not value.isascii() or not value.isalpha():
            column = self.columns[name] or self.fields[name][0]
            raise CellError(column, f"{column} must be a three-letter currency code such as usd: {value[:10]!r}")
        return value

    def metadata(self, record) -> dict:
        found = {}
        for column, key in self.metadata_columns.items():
            value = values.text(record, column)
            if value:
                found[key] = value
        return found

    def status(self, record, allowed: frozenset) -> str:
        value = "_".join(self.required_text(record, "status", "the status is required").lower().split())
        if value not in allowed:
            column = self.columns["status"]
            raise CellError(column, f"{column} {value!r} is not a Stripe status ({', '.join(sorted(allowed))})")
        return value

    def parse(self, record) -> dict:
        raise NotImplementedError

    def objects(self, rows, errors) -> list[Exported]:
        """The Stripe objects of the parsed (row number, row) pairs; disagreeing rows go to `errors`."""
        raise NotImplementedError

    def disagrees(self, number, row, exported: Exported, names, errors) -> bool:
        """True, with an error on the first of `names` that differs, when `row` says otherwise than the first row
        of its object."""
        disagreeing = next((n for n in names if row[n] != exported.first[n]), None)
        if disagreeing:
            column = self.columns[disagreeing] or self.fields[disagreeing][0]
            errors.add(number, column, f"{exported.kind} {row['id']} says otherwise on row {exported.rows[0]}")
        return bool(disagreeing)


class StripeCustomersExport(StripeExport):
    name = "stripe_customers"
    label = "Stripe customers export"
    fields = {
        "id": ("id", "Customer ID"),
        "email": ("Email", "Customer Email"),
        "name": ("Name", "Customer Name"),
        "description": ("Description", "Customer Description"),
        "created": ("Created (UTC)", "Created", "Created At (UTC)"),
        "deleted": ("Deleted",),
    }
    required = ("id",)

    @classmethod
    def detect(cls, columns) -> bool:
        keys = cls._keys(columns)
        return (
            cls._has(keys, "id")
            and (cls._has(keys, "email") or cls._has(keys, "name"))
            and not {"status", "amount paid", "current period start (utc)", "price id"} & keys
        )

    def parse(self, record) -> dict:
        return {
            "id": self.required_text(record, "id", "every customer has an id (cus_...)"),
            "email": self.text(record, "email"),
            "name": self.text(record, "name"),
            "description": self.text(record, "description"),
            "created": self.moment(record, "created"),
            "deleted": self.flag(record, "deleted"),
            "metadata": self.metadata(record),
        }

    def objects(self, rows, errors) -> list[Exported]:
        found, first_row = [], {}
        for number, row in rows:
            if row["id"] in first_row:
                errors.add(number, self.columns["id"], f"customer {row['id']} is also on row {first_row[row['id']]}")
                continue
            first_row[row["id"]] = number
            obj = {
                "id": row["id"],
                "object": "customer",
                "email": row["email"],
                "name": row["name"],
                "description": row["description"],
                "created": epoch(row["created"]),
                "metadata": row["metadata"],
            }
            if row["deleted"]:
                obj["deleted"] = True
            found.append(Exported("customer", obj, [number], [row["created"]]))
        return found


def _interval(source: StripeExport, record) -> tuple[str, int]:
    raw = source.text(record, "interval").lower()
    count = source.count(record, "interval_count")
    if not raw:
        return "", count or 1
    word = INTERVAL_WORDS.get(raw)
    if isinstance(word, tuple):
        return word
    if word:
        return word, count or 1
    match = INTERVAL.match(raw)
    if not match:
        column = source.columns["interval"]
        raise CellError(column, f"{column} must be day, week, month or year: {raw[:20]!r}")
    return match.group("unit"), int(match.group("count") or count or 1)


def _price(*, price_id: str, plan: str, product: str, product_name: str, currency: str, amount=None,
           interval: str = "", interval_count: int = 1, created: int | None = None) -> dict:  # fmt: skip
    """A price as the API shows it, from what a row says of it. `Product` holds an id (prod_...) or a name."""
    named_only = product and not product_name and not product.startswith("prod_")
    if named_only:
        product, product_name = "", product
    price = {
        "id": price_id,
        "object": "price",
        # Without a product id there is no product row to name the plan: its name goes on the price.
        "nickname": plan or (product_name if named_only else "") or None,
        "currency": currency.lower(),
        "unit_amount_decimal": None if amount is None else str(minor_units(amount, currency)),
        "recurring": {"interval": interval, "interval_count": interval_count, "usage_type": "licensed"}
        if interval
        else None,
        "created": created,
        "active": True,
        "metadata": {},
    }
    if product:
        price["product"] = {"id": product, "object": "product", "name": product_name, "active": True, "metadata": {}}
    return price


class StripeSubscriptionsExport(StripeExport):
    name = "stripe_subscriptions"
    label = "Stripe subscriptions export"
    fields = {
        "id": ("id", "Subscription ID", "Subscription"),
        "customer": ("Customer ID", "Customer"),
        "status": ("Status",),
        "item_id": ("Subscription Item ID", "Item ID"),
        "price_id": ("Price ID", "Plan ID", "Price"),
        "plan": ("Plan", "Plan Name", "Price Nickname", "Plan Nickname", "Nickname"),
        "product": ("Product", "Product ID"),
        "product_name": ("Product Name",),
        "quantity": ("Quantity",),
        "interval": ("Interval", "Billing Interval"),
        "interval_count": ("Interval Count",),
        "amount": ("Amount", "Unit Amount", "Price Amount"),
        "currency": ("Currency",),
        "created": ("Created (UTC)", "Created"),
        "start": ("Start (UTC)", "Start Date (UTC)", "Start", "Start Date"),
        "current_period_start": ("Current Period Start (UTC)", "Current Period Start"),
        "current_period_end": ("Current Period End (UTC)", "Current Period End"),
        "trial_start": ("Trial Start (UTC)", "Trial Start"),
        "trial_end": ("Trial End (UTC)", "Trial End"),
        "cancel_at": ("Cancel At (UTC)", "Cancel At"),
        "cancel_at_period_end": ("Cancel At Period End",),
        "canceled_at": ("Canceled At (UTC)", "Canceled At", "Cancelled At (UTC)", "Cancelled At"),
        "ended_at": ("Ended At (UTC)", "Ended At"),
    }
    required = ("id", "customer", "status")
    MOMENTS = ("created", "start", "current_period_start", "current_period_end", "trial_start", "trial_end",
               "cancel_at", "canceled_at", "ended_at")  # fmt: skip

    def missing_columns(self) -> list[str]:
        missing = super().missing_columns()
        if self.columns["price_id"] is None and self.columns["plan"] is None:
            missing.append("Price ID")
        return missing

    @classmethod
    def detect(cls, columns) -> bool:
        keys = cls._keys(columns)
        markers = ("current_period_start", "current_period_end", "price_id", "plan", "interval")
        return (
            "amount paid" not in keys
            and cls._has(keys, "status")
            and cls._has(keys, "customer")
            and any(cls._has(keys, m) for m in markers)
        )

    def parse(self, record) -> dict:
        price_id, plan = self.text(record, "price_id"), self.text(record, "plan")
        if not price_id:  # older exports name the plan by its id in "Plan"
            price_id, plan = plan, ""
        if not price_id:
            column = self.columns["price_id"] or self.columns["plan"]
            raise CellError(column, "the subscription's price or plan is empty")
        amount = self.amount(record, "amount")
        currency = self.currency(record, required=amount is not None)
        interval, interval_count = _interval(self, record)
        return {
            "id": self.required_text(record, "id", "every subscription has an id (sub_...)"),
            "customer": self.required_text(record, "customer", "every subscription has a customer"),
            "status": self.status(record, SUBSCRIPTION_STATUSES),
            "item_id": self.text(record, "item_id"),
            "price_id": price_id,
            "plan": plan,
            "product": self.text(record, "product"),
            "product_name": self.text(record, "product_name"),
            "quantity": self.count(record, "quantity"),
            "interval": interval,
            "interval_count": interval_count,
            "amount": amount,
            "currency": currency,
            "cancel_at_period_end": self.flag(record, "cancel_at_period_end"),
            "metadata": self.metadata(record),
            **{name: self.moment(record, name) for name in self.MOMENTS},
        }

    SAME = ("customer", "status", "created", "current_period_start", "current_period_end", "trial_end", "ended_at")

    def objects(self, rows, errors) -> list[Exported]:
        found = {}
        for number, row in rows:
            exported = found.get(row["id"])
            if exported is None:
                exported = Exported("subscription", self._subscription(row), [], _subscription_moments(row), row)
                found[row["id"]] = exported
            elif self.disagrees(number, row, exported, self.SAME, errors):
                continue
            exported.rows.append(number)
            items = exported.obj["items"]["data"]
            item_id = row["item_id"] or f"{row['id']}:{row['price_id']}"
            if any(item["id"] == item_id for item in items):
                errors.add(number, self.columns["price_id"] or self.columns["plan"],
                           f"subscription {row['id']} lists price {row['price_id']} twice")  # fmt: skip
                continue
            price = _price(price_id=row["price_id"], plan=row["plan"], product=row["product"],
                           product_name=row["product_name"], currency=row["currency"], amount=row["amount"],
                           interval=row["interval"], interval_count=row["interval_count"])  # fmt: skip
            items.append({"id": item_id, "object": "subscription_item", "quantity": row["quantity"],
                          "created": epoch(row["created"]), "metadata": {}, "price": price})  # fmt: skip
        return list(found.values())

    @staticmethod
    def _subscription(row) -> dict:
        return {
            "id": row["id"],
            "object": "subscription",
            "customer": row["customer"],
            "status": row["status"],
            "currency": row["currency"].lower(),
            "created": epoch(row["created"]),
            "start_date": epoch(row["start"]),
            "current_period_start": epoch(row["current_period_start"]),
            "current_period_end": epoch(row["current_period_end"]),
            "trial_start": epoch(row["trial_start"]),
            "trial_end": epoch(row["trial_end"]),
            "cancel_at": epoch(row["cancel_at"]),
            "cancel_at_period_end": row["cancel_at_period_end"],
            "canceled_at": epoch(row["canceled_at"]),
            "ended_at": epoch(row["ended_at"]),
            "metadata": row["metadata"],
            "items": {"object": "list", "data": []},
        }


def _subscription_moments(row) -> list:
    """What the row shows happening: creation, start, the current period's start, a trial's start (and its
    end once it is over), the cancellation and the end. A future date is a plan, not a change."""
    moments = [row[n] for n in ("created", "start", "current_period_start", "trial_start", "canceled_at", "ended_at")]
    if row["status"] != "trialing":
        moments.append(row["trial_end"])
    return moments


class StripeInvoicesExport(StripeExport):
    """Invoices, one row per invoice, or itemised (the invoice line items export): one row per line with the
    invoice's columns repeated."""

    name = "stripe_invoices"
    label = "Stripe invoices export (itemised)"
    fields = {
        "id": ("Invoice ID", "id", "Invoice"),
        "number": ("Number", "Invoice Number"),
        "customer": ("Customer ID", "Customer"),
        "subscription": ("Subscription", "Subscription ID"),
        "status": ("Status",),
        "currency": ("Currency",),
        "amount_due": ("Amount Due",),
        "amount_paid": ("Amount Paid",),
        "amount_remaining": ("Amount Remaining",),
        "subtotal": ("Subtotal",),
        "total": ("Total",),
        "tax": ("Tax",),
        "discount": ("Discount", "Discount Amount", "Total Discount Amount"),
        "refunded": ("Amount Refunded", "Refunded Amount"),
        "credit_pre": ("Pre Payment Credit Notes Amount", "Pre-payment Credit Notes Amount"),
        "credit_post": ("Post Payment Credit Notes Amount", "Post-payment Credit Notes Amount", "Credit Notes Amount"),
        "created": ("Date (UTC)", "Created (UTC)", "Invoice Date (UTC)", "Date", "Created"),
        "finalized_at": ("Finalized At (UTC)", "Finalized At"),
        "period_start": ("Period Start (UTC)", "Period Start"),
        "period_end": ("Period End (UTC)", "Period End"),
        "paid_at": ("Paid At (UTC)", "Paid At"),
        "line_id": ("Line Item ID", "Invoice Line Item ID", "Line ID"),
        "line_description": ("Line Description", "Line Item Description", "Description"),
        "line_amount": ("Line Amount", "Line Item Amount", "Amount"),
        "line_currency": ("Line Currency", "Line Item Currency"),
        "price_id": ("Price ID", "Line Price ID", "Plan ID"),
        "plan": ("Plan", "Plan Name", "Price Nickname", "Line Plan"),
        "product": ("Product ID", "Product"),
        "product_name": ("Product Name",),
        "quantity": ("Quantity", "Line Quantity"),
        "line_period_start": ("Line Period Start (UTC)", "Line Period Start", "Line Item Period Start (UTC)"),
        "line_period_end": ("Line Period End (UTC)", "Line Period End", "Line Item Period End (UTC)"),
        "proration": ("Proration", "Line Proration"),
        "line_subscription": ("Line Subscription", "Line Subscription ID"),
    }
    required = ("id", "customer", "status", "currency", "amount_paid")

    @classmethod
    def detect(cls, columns) -> bool:
        keys = cls._keys(columns)
        return cls._has(keys, "amount_paid") and (cls._has(keys, "amount_due") or "invoice id" in keys)

    @property
    def itemised(self) -> bool:
        return self.columns["line_id"] is not None or self.columns["line_amount"] is not None

    INVOICE_FIELDS = ("customer", "subscription", "status", "currency", "number", "amount_due", "amount_paid",
                      "amount_remaining", "subtotal", "total", "tax", "discount", "refunded", "credit_pre",
                      "credit_post", "created", "finalized_at", "period_start", "period_end", "paid_at")  # fmt: skip

    def parse(self, record) -> dict:
        currency = self.currency(record)
        row = {
            "id": self.required_text(record, "id", "every invoice has an id (in_...)"),
            "customer": self.required_text(record, "customer", "every invoice has a customer"),
            "subscription": self.text(record, "subscription"),
            "status": self.status(record, INVOICE_STATUSES),
            "currency": currency,
            "number": self.text(record, "number"),
            "amount_paid": self.amount(record, "amount_paid", required=True),
            "metadata": self.metadata(record),
        }
        for name in ("amount_due", "amount_remaining", "subtotal", "total", "tax", "discount", "refunded",
                     "credit_pre", "credit_post"):  # fmt: skip
            row[name] = self.amount(record, name)
        for name in ("created", "finalized_at", "period_start", "period_end", "paid_at"):
            row[name] = self.moment(record, name)
        row["line"] = self._line(record, currency) if self.itemised else None
        return row

    def _line(self, record, currency: str) -> dict | None:
        line_id = self.text(record, "line_id")
        amount = self.amount(record, "line_amount")
        if not line_id and amount is None:
            return None  # an invoice without lines still has its row
        if amount is None:
            raise CellError(self.columns["line_amount"] or self.fields["line_amount"][0], "the line's amount is empty")
        price_id, plan = self.text(record, "price_id"), self.text(record, "plan")
        return {
            "id": line_id,
            "amount": amount,
            "currency": self.currency(record, "line_currency", required=False) or currency,
            "description": self.text(record, "line_description"),
            "price_id": price_id or plan,
            "plan": plan if price_id else "",
            "product": self.text(record, "product"),
            "product_name": self.text(record, "product_name"),
            "quantity": self.count(record, "quantity"),
            "period_start": self.moment(record, "line_period_start"),
            "period_end": self.moment(record, "line_period_end"),
            "proration": self.flag(record, "proration"),
            "subscription": self.text(record, "line_subscription"),
        }

    def objects(self, rows, errors) -> list[Exported]:
        found = {}
        for number, row in rows:
            exported = found.get(row["id"])
            if exported is None:
                moments = [row["created"], row["finalized_at"], row["paid_at"] if row["status"] == "paid" else None]
                exported = found[row["id"]] = Exported("invoice", self._invoice(row), [], moments, row)
            elif self.disagrees(number, row, exported, self.INVOICE_FIELDS, errors):
                continue
            exported.rows.append(number)
            if row["line"] is not None:
                lines = exported.obj["lines"]["data"]
                line_id = row["line"]["id"] or f"{row['id']}:{len(lines) + 1}"
                if any(line["id"] == line_id for line in lines):
                    errors.add(number, self.columns["line_id"], f"line {line_id} of invoice {row['id']} appears twice")
                    continue
                lines.append(self._line_object(line_id, row))
        return list(found.values())

    def _invoice(self, row) -> dict:
        currency = row["currency"]

        def minor(name):
            return minor_units(row[name], currency)

        obj = {
            "id": row["id"],
            "object": "invoice",
            "customer": row["customer"],
            "subscription": row["subscription"] or None,
            "status": row["status"],
            "number": row["number"] or None,
            "currency": currency.lower(),
            "amount_due": minor("amount_due") if row["amount_due"] is not None else minor("amount_paid"),
            "amount_paid": minor("amount_paid"),
            "amount_remaining": minor("amount_remaining"),
            "subtotal": minor("subtotal"),
            "total": minor("total"),
            "tax": minor("tax"),
            "created": epoch(row["created"]),
            "period_start": epoch(row["period_start"]),
            "period_end": epoch(row["period_end"]),
            "status_transitions": {"paid_at": epoch(row["paid_at"]), "finalized_at": epoch(row["finalized_at"])},
            "metadata": row["metadata"],
            # Without line columns the file says nothing of the lines: the ones already held are kept.
            "lines": {"object": "list", "has_more": not self.itemised, "data": []},
        }
        if row["discount"] is not None:
            obj["total_discount_amounts"] = [{"amount": minor("discount")}]
        if row["refunded"] is not None:
            obj["charge"] = {"object": "charge", "amount_refunded": minor("refunded")}
        if row["credit_pre"] is not None or row["credit_post"] is not None:
            obj["pre_payment_credit_notes_amount"] = minor("credit_pre") or 0
            obj["post_payment_credit_notes_amount"] = minor("credit_post") or 0
        return obj

    @staticmethod
    def _line_object(line_id: str, row) -> dict:
        line = row["line"]
        currency = line["currency"]
        price = None
        if line["price_id"]:
            price = _price(price_id=line["price_id"], plan=line["plan"], product=line["product"],
                           product_name=line["product_name"], currency=currency)  # fmt: skip
        return {
            "id": line_id,
            "object": "line_item",
            "amount": minor_units(line["amount"], currency),
            "currency": currency.lower(),
            "description": line["description"],
            "quantity": line["quantity"],
            "period": {"start": epoch(line["period_start"]), "end": epoch(line["period_end"])},
            "price": price,
            "subscription": line["subscription"] or row["subscription"] or None,
            "proration": line["proration"],
            "metadata": {},
        }


EXPORTS = (StripeInvoicesExport, StripeSubscriptionsExport, StripeCustomersExport)  # most specific header first
EXPORTS_BY_NAME = {export.name: export for export in EXPORTS}


def detect_export(columns):
    """The export class whose header this is, or None."""
    return next((export for export in EXPORTS if export.detect(columns)), None)
