import hashlib
import uuid

from django.core import signing
from django.utils import timezone

from accounts.models import AgentToken, ApiKey, Invitation, Membership, Organization

API_KEY_PREFIX = "fk_"
AGENT_TOKEN_PREFIX = "fa_"
# Signs the digest e-mails' unsubscribe links, so a link made for one purpose never passes for another.
DIGEST_UNSUBSCRIBE_SALT = "accounts.digest-unsubscribe"


def hash_secret(raw: str) -> str:
    """SHA-256 hex of a secret; keys are 256-bit random, so a fast hash is enough."""
    return hashlib.sha256(raw.encode()).hexdigest()


def _as_uuid(value):
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def membership_for_user(*, user, org_code):
    """The user's membership (with its org) in the organisation `org_code`, or None."""
    code = _as_uuid(org_code)
    if code is None or not user.is_authenticated:
        return None
    return Membership.objects.select_related("org").filter(user=user, org__code=code).first()


def membership_list_for_user(*, user):
    """The user's memberships with their organisations, by organisation name."""
    return Membership.objects.select_related("org").filter(user=user).order_by("org__name")


def membership_list(*, org):
    """Members of the organisation with their users, owners first."""
    order = {"owner": 0, "member": 1, "viewer": 2}
    members = list(Membership.objects.for_org(org).select_related("user"))
    return sorted(members, key=lambda m: (order.get(m.role, 9), m.user.email))


def invitation_list_pending(*, org):
    """Invitations of the organisation not yet accepted and not expired, newest first."""
    return Invitation.objects.for_org(org).filter(accepted_at=None, expires_at__gt=timezone.now())


def invitation_for_token(*, raw_token: str):
    """The invitation behind an e-mailed link, or None."""
    return Invitation.objects.select_related("org", "invited_by").filter(token_hash=hash_secret(raw_token)).first()


def api_key_list(*, org):
    """All API keys of the organisation, active and revoked, newest first."""
    return ApiKey.objects.for_org(org).select_related("created_by")


def agent_token_list(*, org):
    """All agent tokens of the organisation, newest first."""
    return AgentToken.objects.for_org(org).select_related("created_by")


def token_for_secret(raw: str):
    """The active API key or agent token that `raw` is, or None (unknown, malformed or revoked)."""
    if raw.startswith(API_KEY_PREFIX):
        model = ApiKey
    elif raw.startswith(AGENT_TOKEN_PREFIX):
        model = AgentToken
    else:
        return None
    return model.objects.select_related("org").filter(token_hash=hash_secret(raw), revoked_at=None).first()


def organization_for_code(*, code):
    """An organisation by its public code, or None; for trusted callers only (commands, tasks)."""
    code = _as_uuid(code)
    return None if code is None else Organization.objects.filter(code=code).first()


def membership_for_unsubscribe_token(*, token: str):
    """The membership (with org and user) an e-mailed unsubscribe link was signed for, or None when the link is
    tampered with or the membership is gone."""
    try:
        code = _as_uuid(signing.loads(token, salt=DIGEST_UNSUBSCRIBE_SALT))
    except signing.BadSignature:
        return None
    return None if code is None else Membership.objects.select_related("org", "user").filter(code=code).first()
