"""The connector plug-ins, in the order the Connectors page offers them."""

from ingest.connectors.anthropic_admin import AnthropicAdminSource
from ingest.connectors.azure_blob import AzureCostExportsSource
from ingest.connectors.base import ConnectorError, ConnectorSource
from ingest.connectors.gcs import GcsBillingExportSource
from ingest.connectors.openai_admin import OpenAIAdminSource
from ingest.connectors.s3 import AwsDataExportsSource, S3CompatibleSource

CONNECTORS: tuple[type[ConnectorSource], ...] = (
    AwsDataExportsSource,
    S3CompatibleSource,
    AzureCostExportsSource,
    GcsBillingExportSource,
    OpenAIAdminSource,
    AnthropicAdminSource,
)
CONNECTORS_BY_KIND = {source.kind: source for source in CONNECTORS}


def connector_source(kind: str) -> type[ConnectorSource]:
    """The plug-in class of a stored connector's kind; ConnectorError for a kind this server does not know."""
    try:
        return CONNECTORS_BY_KIND[kind]
    except KeyError:
        raise ConnectorError(f"Unknown connector kind {kind!r}.", "Delete this connector, create it again.") from None
