import secrets
import tempfile
from datetime import timedelta
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from accounts.models import Organization, Role, Scope
from accounts.services import api_key_create, org_create, user_get_or_create
from finops.demo_bills import demo_resources, write_focus_bill, write_gpu_cloud_invoice
from ingest.services.uploads import column_mapping_create, upload_create_from_path, upload_run

DEMO_ORG_NAME = "Demo AI"
DEMO_OWNER_EMAIL = "founder@demo-ai.example"
DEMO_TEAM = (("cto@demo-ai.example", Role.MEMBER), ("investor@demo-ai.example", Role.VIEWER))
DEMO_WEEKS = 6


@transaction.atomic
def demo_org_recreate() -> dict:
    """The demo organisation "Demo AI", rebuilt from scratch: login, password and a read-write API key."""
    password = secrets.token_urlsafe(12)
    owner = _demo_user(DEMO_OWNER_EMAIL, password)
    Organization.objects.filter(name=DEMO_ORG_NAME, memberships__user=owner).delete()
    org = org_create(name=DEMO_ORG_NAME, owner=owner)
    for email, role in DEMO_TEAM:
        org.memberships.create(user=_demo_user(email, password), role=role)
    _, api_key = api_key_create(org=org, name="Demo key", scope=Scope.WRITE, created_by=owner)
    api_key_create(org=org, name="Read-only dashboard export", scope=Scope.READ, created_by=owner)
    demo_bills_import(org=org, owner=owner)
    return {"org": str(org.code), "login": owner.email, "password": password, "api_key": api_key}


def demo_bills_import(*, org, owner) -> None:
    """Six weeks of bills through the real upload path: an AWS FOCUS export and a GPU cloud's own CSV."""
    start = timezone.now().date() - timedelta(weeks=DEMO_WEEKS)
    days = DEMO_WEEKS * 7
    with tempfile.TemporaryDirectory() as folder:
        focus = Path(folder) / "aws-focus-1.2.csv"
        write_focus_bill(focus, start=start, days=days, resources=demo_resources(per_provider=2, providers={"AWS"}))
        invoice = Path(folder) / "lambda-invoice.csv"
        write_gpu_cloud_invoice(invoice, start=start, days=days)
        column_mapping_create(
            org=org,
            name="Lambda invoices",
            provider="Lambda",
            currency="USD",
            columns={
                "date": "Date",
                "resource": "Instance ID",
                "gpu_type": "Instance Type",
                "quantity": "GPU Hours",
                "amount": "Amount (USD)",
                "tags": ["Customer", "Team"],
            },
        )
        for path in (focus, invoice):
            upload = upload_create_from_path(org=org, path=path, kind="bill", created_by=owner, enqueue=False)
            upload = upload_run(upload_id=upload.pk)
            if upload.status != upload.Status.DONE:
                raise RuntimeError(f"demo bill {path.name} did not import: {upload.errors[:3]}")


def _demo_user(email: str, password: str):
    user, _ = user_get_or_create(email=email)
    user.set_password(password)
    user.save(update_fields=["password"])
    return user
