"""Independent readings of sample files, so the importer's totals are checked against the file itself."""

import csv
import gzip
import io
import json
import re
from collections import defaultdict
from contextlib import contextmanager
from decimal import Decimal
from unittest import mock

from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.services import api_key_create


def file_totals(path, cost_column: str, currency_column: str | None, default_currency: str = "USD") -> dict:
    """Sum of a cost column per currency, read with the csv module and Decimal, '$1,000.00 ' style included."""
    totals = defaultdict(Decimal)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            raw = (row.get(cost_column) or "").strip()
            if not raw or raw.lower() == "null":
                continue
            currency = (row.get(currency_column) or "").strip() if currency_column else ""
            totals[currency or default_currency] += Decimal(re.sub(r"[$,\s]", "", raw))
    return dict(totals)


def cents(totals: dict) -> dict:
    return {currency: Decimal(str(total)).quantize(Decimal("0.01")) for currency, total in totals.items()}


def csv_bytes(rows: list[list]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()


def as_upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


# The column mapping form for a Lambda-style GPU cloud invoice (Invoice Date, Instance ID, Instance Type, GPU Hours,
# Total (USD)).
LAMBDA_MAPPING_FORM = {
    "name": "Lambda invoices",
    "provider": "Lambda",
    "currency": "USD",
    "col_date": "Invoice Date",
    "col_amount": "Total (USD)",
    "col_resource": "Instance ID",
    "col_gpu_type": "Instance Type",
    "col_quantity": "GPU Hours",
}


@contextmanager
def completed_calls(module, name: str):
    """Wraps `module.name` for the block; yields a list that gains one item per call that returned (not raised)."""
    calls = []
    real = getattr(module, name)

    def spy(*args, **kwargs):
        result = real(*args, **kwargs)
        calls.append(1)  # only once the call has finished its work
        return result

    with mock.patch.object(module, name, spy):
        yield calls


class ApiClientMixin:
    """Bearer-key helpers for tests built on tests.base.BaseTestCase."""

    def make_keys(self):
        _, self.write_key = api_key_create(org=self.org, name="w", scope="write", created_by=self.alice)
        _, self.read_key = api_key_create(org=self.org, name="r", scope="read", created_by=self.alice)
        _, self.charlie_key = api_key_create(org=self.charlies_org, name="c", scope="write", created_by=self.charlie)

    def api_upload(self, name, content, key=None, **fields):
        data = {"file": as_upload(name, content), "kind": "bill", **fields}
        with self.captureOnCommitCallbacks(execute=True):
            return self.client.post("/api/v1/uploads/", data, HTTP_AUTHORIZATION=f"Bearer {key or self.write_key}")

    def post_events(self, events: list[dict], key=None):
        """POST usage events to the live endpoint; every one of them must be accepted."""
        response = self.client.post("/api/v1/usage-events/", json.dumps(events), content_type="application/json",
                                    HTTP_AUTHORIZATION=f"Bearer {key or self.write_key}")  # fmt: skip
        self.assertEqual(response.json()["accepted"], len(events), response.content)
        return response

    def api_get(self, url, key=None):
        return self.client.get(url, HTTP_AUTHORIZATION=f"Bearer {key or self.read_key}")


# The FOCUS specification's example files in ../shared/samples/focus (spec-v1.2_<name>.csv).
FOCUS_SPEC_SAMPLES = [
    "commitment_discount_purchase_scenario_1",
    "commitment_discount_purchase_scenario_2",
    "commitment_discount_purchase_scenario_3",
    "commitment_discount_usage_scenario_1",
    "commitment_discount_usage_scenario_2",
    "commitment_discount_usage_scenario_3",
    "commitment_discount_usage_scenario_4",
    "one_hundred_percent_utilization_with_commitment_discount_flexibility_with_1_resource",
    "one_hundred_percent_utilization_with_commitment_discount_flexibility_with_2_resources",
    "one_hundred_percent_utilization_without_commitment_discount_flexibility",
    "simple_saas_agreements_a1",
    "simple_saas_agreements_a2",
    "simple_saas_agreements_a3",
    "simple_saas_agreements_b",
    "simple_saas_agreements_c",
    "zero_percent_utilization_without_commitment_discount_flexibility",
]
