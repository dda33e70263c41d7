"""Every page of an organisation, listed from the URL patterns so that a page added later is visited too."""

from django.urls import URLPattern, reverse

from finops.urls import org_pages
from ingest.connectors import CONNECTORS
from ingest.models import Connector, GpuHost, Upload


def org_page_urls(org) -> list[str]:
    """The paths of every org page that takes only the org's code (finops, ingest, pricing and accounts routes under
    /o/<org code>/), then one GPU host's page and edit page and one upload's page and delete page when the org has
    them, one connector's page and edit page when it has one, and the create page of each connector kind. Routes
    that only take a POST answer 405 to a GET: callers skip those."""
    urls = [
        reverse(pattern.name, kwargs={"org_code": org.code})
        for pattern in org_pages
        if isinstance(pattern, URLPattern) and pattern.name and "<" not in str(pattern.pattern)
    ]
    host = GpuHost.objects.filter(org=org).order_by("id").first()
    if host:
        urls += [reverse(name, kwargs={"org_code": org.code, "code": host.code})
                 for name in ("finops-gpu-host", "finops-gpu-host-edit")]  # fmt: skip
    upload = Upload.objects.filter(org=org).order_by("id").first()
    if upload:
        urls += [reverse(name, kwargs={"org_code": org.code, "code": upload.code})
                 for name in ("ingest-upload", "ingest-upload-delete")]  # fmt: skip
    connector = Connector.objects.filter(org=org).order_by("id").first()
    if connector:
        urls += [reverse(name, kwargs={"org_code": org.code, "code": connector.code})
                 for name in ("ingest-connector", "ingest-connector-edit")]  # fmt: skip
    urls += [reverse("ingest-connector-create", kwargs={"org_code": org.code, "kind": source.kind})
             for source in CONNECTORS]  # fmt: skip
    return urls
