import secrets
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import AgentToken, ApiKey, Invitation, Membership, Organization, Role, Scope, User
from accounts.selectors import AGENT_TOKEN_PREFIX, API_KEY_PREFIX, DIGEST_UNSUBSCRIBE_SALT, hash_secret

SHOWN_PREFIX_LENGTH = 11
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _new_secret(prefix: str) -> tuple[str, str, str]:
    raw = prefix + secrets.token_urlsafe(32)
    return raw, raw[:SHOWN_PREFIX_LENGTH], hash_secret(raw)


def user_get_or_create(*, email: str, password: str | None = None) -> tuple[User, bool]:
    """The user with this e-mail (created with `password`, or unusable, if missing) and whether it is new."""
    email = User.objects.normalize_email(email).lower()
    user = User.objects.filter(email=email).first()
    if user is not None:
        return user, False
    return User.objects.create_user(email=email, password=password), True


@transaction.atomic
def org_create(*, name: str, owner: User, currency: str = "USD", timezone_name: str = "UTC") -> Organization:
    """A new organisation with `owner` as its first owner."""
    org = Organization.objects.create(name=name.strip(), currency=currency.upper(), timezone=timezone_name)
    Membership.objects.create(org=org, user=owner, role=Role.OWNER)
    return org


@transaction.atomic
def org_update(*, org: Organization, name: str, currency: str, timezone_name: str) -> Organization:
    """The organisation with its settings changed."""
    org.name = name.strip()
    org.currency = currency.upper()
    org.timezone = timezone_name
    org.full_clean()
    org.save(update_fields=["name", "currency", "timezone"])
    return org


def _owner_count(org) -> int:
    return Membership.objects.for_org(org).filter(role=Role.OWNER).count()


@transaction.atomic
def membership_role_update(*, org: Organization, membership: Membership, role: str) -> Membership:
    """The membership with its new role; the last owner cannot be demoted."""
    membership = Membership.objects.for_org(org).select_for_update().get(pk=membership.pk)
    if membership.role == Role.OWNER and role != Role.OWNER and _owner_count(org) <= 1:
        raise ValidationError("An organisation needs at least one owner; make someone else owner first.")
    membership.role = Role(role)
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, org: Organization, membership: Membership) -> None:
    """Remove a member; the last owner cannot leave."""
    membership = Membership.objects.for_org(org).select_for_update().get(pk=membership.pk)
    if membership.role == Role.OWNER and _owner_count(org) <= 1:
        raise ValidationError("The last owner cannot be removed.")
    membership.delete()


@transaction.atomic
def invitation_create(*, org: Organization, email: str, role: str, invited_by: User) -> tuple[Invitation, str]:
    """A new invitation and its raw token; the e-mail with the link goes out after commit."""
    email = User.objects.normalize_email(email).lower()
    if Membership.objects.for_org(org).filter(user__email=email).exists():
        raise ValidationError(f"{email} is already a member of {org.name}.")
    raw = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        org=org,
        email=email,
        role=Role(role),
        token_hash=hash_secret(raw),
        invited_by=invited_by,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_LIFETIME_DAYS),
    )
    from accounts.tasks import send_invitation_email as send_invitation_email_task

    transaction.on_commit(lambda: send_invitation_email_task.delay(invitation.pk, raw))
    return invitation, raw


def invitation_url(raw_token: str) -> str:
    """The absolute link that an invitation e-mail carries."""
    from django.urls import reverse

    return settings.SITE_URL + reverse("accounts-invitation", args=[raw_token])


def membership_digest_set(*, org: Organization, membership: Membership, weekly_digest: bool) -> Membership:
    """The membership with its weekly digest switched on or off: the member's own choice, so any role may."""
    Membership.objects.for_org(org).filter(pk=membership.pk).update(weekly_digest=weekly_digest)
    membership.weekly_digest = weekly_digest
    return membership


def digest_unsubscribe_url(membership: Membership) -> str:
    """The absolute one-click link, signed for this membership, that switches its weekly digest off."""
    from django.urls import reverse

    token = signing.dumps(str(membership.code), salt=DIGEST_UNSUBSCRIBE_SALT)
    return settings.SITE_URL + reverse("accounts-digest-unsubscribe", args=[token])


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """The membership that accepting the invitation creates; single use, unexpired, for its address."""
    invitation = Invitation.objects.select_for_update().select_related("org").get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise ValidationError("This invitation has already been used.")
    if invitation.is_expired:
        raise ValidationError("This invitation has expired; ask for a new one.")
    if invitation.email.lower() != user.email.lower():
        raise ValidationError(f"This invitation was sent to {invitation.email}; you are logged in as {user.email}.")
    membership, _ = Membership.objects.get_or_create(org=invitation.org, user=user, defaults={"role": invitation.role})
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


def invitation_revoke(*, org: Organization, invitation: Invitation) -> None:
    """Withdraw a pending invitation; its link stops working."""
    Invitation.objects.for_org(org).filter(pk=invitation.pk, accepted_at=None).delete()


def invitations_purge(*, older_than_days: int = 30) -> int:
    """Delete invitations that expired unused more than `older_than_days` ago; returns how many."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted, _ = Invitation.objects.filter(accepted_at=None, expires_at__lt=cutoff).delete()
    return deleted


@transaction.atomic
def api_key_create(*, org: Organization, name: str, scope: str, created_by: User | None) -> tuple[ApiKey, str]:
    """A new API key and its raw value, which is never stored and cannot be shown again."""
    raw, prefix, token_hash = _new_secret(API_KEY_PREFIX)
    key = ApiKey.objects.create(
        org=org, name=name.strip(), scope=Scope(scope), prefix=prefix, token_hash=token_hash, created_by=created_by
    )
    return key, raw


@transaction.atomic
def agent_token_create(*, org: Organization, host_name: str, created_by: User | None) -> tuple[AgentToken, str]:
    """A new agent token for one GPU host and its raw value, shown once."""
    raw, prefix, token_hash = _new_secret(AGENT_TOKEN_PREFIX)
    token = AgentToken.objects.create(
        org=org, host_name=host_name.strip(), prefix=prefix, token_hash=token_hash, created_by=created_by
    )
    return token, raw


def token_revoke(*, org: Organization, token: ApiKey | AgentToken) -> None:
    """Revoke an API key or agent token of the organisation; it stops working at once."""
    type(token).objects.for_org(org).filter(pk=token.pk, revoked_at=None).update(revoked_at=timezone.now())


def token_touch(*, token: ApiKey | AgentToken) -> None:
    """Record that a token was used, at most one write a minute per token."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        type(token).objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


@transaction.atomic
def org_bootstrap(*, name: str, owner_email: str, password: str | None = None) -> tuple[Organization, User, str]:
    """A new organisation, its owner (created if missing) and a read-write API key's raw value."""
    owner, _ = user_get_or_create(email=owner_email, password=password)
    org = org_create(name=name, owner=owner)
    _, raw = api_key_create(org=org, name="Created with the organisation", scope=Scope.WRITE, created_by=owner)
    return org, owner, raw
