import secrets

from django.db import transaction

from accounts.models import Organization, Role, Scope
from accounts.services import api_key_create, org_create, user_get_or_create

DEMO_ORG_NAME = "Demo AI"
DEMO_OWNER_EMAIL = "founder@demo-ai.example"
DEMO_TEAM = (("cto@demo-ai.example", Role.MEMBER), ("investor@demo-ai.example", Role.VIEWER))


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
    return {"org": str(org.code), "login": owner.email, "password": password, "api_key": api_key}


def _demo_user(email: str, password: str):
    user, _ = user_get_or_create(email=email)
    user.set_password(password)
    user.save(update_fields=["password"])
    return user
