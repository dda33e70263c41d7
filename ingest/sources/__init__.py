"""The source plug-ins, in detection order: the most specific header wins."""

from ingest.sources.anthropic_usage import AnthropicCostSource, AnthropicUsageSource
from ingest.sources.aws_cur import AwsCurSource
from ingest.sources.azure_cost import AzureCostSource
from ingest.sources.focus import FocusSource
from ingest.sources.focus_commitments import FocusContractCommitmentSource
from ingest.sources.gcp_billing import GcpBillingSource
from ingest.sources.generic_events import GenericEventsSource
from ingest.sources.litellm_spend import LiteLLMSpendDocumentSource, LiteLLMSpendSource
from ingest.sources.mapped_csv import MappedCsvSource
from ingest.sources.oci_cost import OciCostSource
from ingest.sources.openai_usage import OpenAICostsSource, OpenAIUsageSource

# Native formats first: FOCUS accepts any header with two FOCUS column names, and the Azure
# export shares some of them (ChargeType, ResourceId, BillingCurrency).
BILL_SOURCES = (
    AwsCurSource,
    OciCostSource,
    GcpBillingSource,
    AzureCostSource,
    FocusContractCommitmentSource,
    FocusSource,
    MappedCsvSource,
    OpenAICostsSource,
    AnthropicCostSource,
)
USAGE_SOURCES = (
    OpenAIUsageSource,
    AnthropicUsageSource,
    LiteLLMSpendDocumentSource,
    LiteLLMSpendSource,
    GenericEventsSource,
)
SOURCES_BY_NAME = {source.name: source for source in (*BILL_SOURCES, *USAGE_SOURCES)}


def detect_source(columns, kind: str = "bill"):
    """The first source class of `kind` whose detect() accepts the header, or None."""
    return next((s for s in BILL_SOURCES if s.kind == kind and s.detect(columns)), None)


def shown_formats(kind: str) -> list[str]:
    """The short labels of the formats of `kind` for the lists pages show: FOCUS first, then detection order."""
    sources = sorted(BILL_SOURCES if kind == "bill" else USAGE_SOURCES, key=lambda s: not s.name.startswith("focus"))
    return [s.short_label for s in sources if s.short_label]
