"""Every registered source's detection against every shared sample (issue 17): each file is recognised by
exactly the sources expected, and the importer's pick for a bill is the expected one. A file of another
kind (LLM usage, Stripe, DCGM, prices, export schemas) is picked by no bill source."""

import functools
import os
import warnings
from pathlib import Path

import pytest

from ingest.readers import open_json_document, open_table, sniff_json_document
from ingest.sources import BILL_SOURCES, SOURCES_BY_NAME, detect_source
from ingest.sources.base import COST_ROW_FIELDS, cost_row
from tests.base import SAMPLES, sample_path
from tests.ingest.helpers import FOCUS_SPEC_SAMPLES

# sample -> (the bill source the importer picks, or None; every source whose detection accepts it)
EXPECTED = {
    "aws-cur/focus_converters_cur-legacy_anonymous_2023-11.csv": ("aws_cur", {"aws_cur"}),
    "aws-cur/koku_test_cur_legacy_2018-06.csv": ("aws_cur", {"aws_cur"}),
    # The Azure export shares FOCUS column names: Azure comes first in detection order (sources/__init__.py).
    "azure/finops-toolkit_EA_ActualCost_Small.csv": ("azure_cost", {"azure_cost", "focus"}),
    "azure/finops-toolkit_EA_AmortizedCost_Small.csv": ("azure_cost", {"azure_cost", "focus"}),
    "azure/finops-toolkit_dataset-metadata_FocusCost_1.0.json": (None, set()),
    "azure/finops-toolkit_dataset-metadata_FocusCost_1.2-preview.json": (None, set()),
    "azure/finops-toolkit_export-schema_actualcost_c360-2025-04.json": (None, set()),
    "azure/finops-toolkit_export-schema_amortizedcost_c360-2025-04.json": (None, set()),
    "azure/finops-toolkit_export-schema_focuscost_1.0.json": (None, set()),
    "azure/finops-toolkit_export-schema_focuscost_1.2.json": (None, set()),
    "dcgm/dcgm-exporter_dcp-metrics-included.csv": (None, set()),
    "dcgm/dcgm-exporter_default-counters.csv": (None, set()),
    "focus/focus-sample-data_focus_sample_1000.csv": ("focus", {"focus"}),
    "focus/focus_validator_sample.parquet": ("focus", {"focus"}),
    **{f"focus/spec-v1.2_{name}.csv": ("focus", {"focus"}) for name in FOCUS_SPEC_SAMPLES},
    "gcp/koku_gcp-bq-export-as-csv_2020-11.csv": ("gcp_billing", {"gcp_billing"}),
    "llm/litellm_spendlogs_schema.prisma.txt": (None, set()),
    "llm/openai_usage_cookbook_output.json": (None, {"openai_usage"}),  # usage: no bill source takes it
    "oci/focus_converters_oci-cost-report_2023-11.csv": ("oci_cost", {"oci_cost"}),
    "prices/genai-prices_data_slim.json": (None, set()),
    "stripe/stripe-openapi_fixtures3.json": (None, set()),
}


@functools.cache
def _read(relative: str):
    """("document", parsed JSON) or ("table", column names) for a sample, as the importer sees it."""
    path = sample_path(relative)
    if sniff_json_document(path):
        return "document", open_json_document(path)
    with open_table(path) as table:
        return "table", tuple(table.columns)


def _accepts(source, relative: str) -> bool:
    shape, content = _read(relative)
    if shape == "document":
        return bool(source.document and source.detect_document(content))
    return bool(source.detect(content))


def _picked(relative: str):
    """The bill source the importer chooses for the file with no format named (services/bills.py)."""
    shape, content = _read(relative)
    if shape == "document":
        return next((s for s in BILL_SOURCES if s.document and s.detect_document(content)), None)
    return detect_source(content, "bill")


@pytest.mark.parametrize("source_name", sorted(SOURCES_BY_NAME))
@pytest.mark.parametrize("relative", sorted(EXPECTED))
def test_each_source_detects_exactly_its_samples(relative, source_name):
    accepted = EXPECTED[relative][1]
    assert _accepts(SOURCES_BY_NAME[source_name], relative) == (source_name in accepted)


@pytest.mark.parametrize("relative", sorted(EXPECTED))
def test_the_importer_picks_the_expected_bill_source(relative):
    picked = _picked(relative)
    assert (picked.name if picked else None) == EXPECTED[relative][0]


def test_every_sample_has_an_expectation():
    if not SAMPLES.exists():
        message = f"shared samples not found at {SAMPLES}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must have ../shared beside the clone)")
        pytest.skip(message)
    present = {str(p.relative_to(SAMPLES)) for p in SAMPLES.rglob("*") if p.is_file() and p.name != "SOURCES.md"}
    assert set(EXPECTED) <= present, sorted(set(EXPECTED) - present)  # the table names real files
    unknown = sorted(present - set(EXPECTED))
    if unknown:  # a sample added beside the clone must not break CI: say so, and add it to the table
        warnings.warn(f"samples with no detection expectation yet: {unknown}", stacklevel=1)


def test_cost_row_names_every_field_in_order_and_refuses_unknown_ones():
    required = {
        "billing_period_start": 1,
        "charge_period_start": 2,
        "charge_category": "usage",
        "billed_cost_amount": 3,
        "effective_cost_amount": 4,
        "currency": "USD",
    }
    row = cost_row(**required)
    assert tuple(row) == COST_ROW_FIELDS
    assert (row["region"], row["pricing_quantity"], row["tags"]) == ("", None, {})
    assert cost_row(**required)["tags"] is not row["tags"]
    with pytest.raises(TypeError):
        cost_row(**required, regoin="eu")


def test_the_readme_names_every_format():
    """The README's format lists are prose: each registered source must be named there by its `format` value."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [name for name in SOURCES_BY_NAME if f"`{name}`" not in readme]
    assert not missing, f"README.md does not name the formats {missing}"
