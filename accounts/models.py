import uuid
import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone as dj_timezone

from accounts.tenancy import OrgQuerySet

TIMEZONE_CHOICES = [(name, name) for name in sorted(zoneinfo.available_timezones())]


def validate_timezone(value):
    # Validated, not `choices`: the tz database differs between machines and would churn migrations.
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"Unknown time zone: {value}")


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person; logs in with an e-mail address and belongs to organisations through memberships."""

    username = None
    email = models.EmailField("e-mail address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()

    def __str__(self):
        return self.email


class Organization(models.Model):
    """The tenant: one AI startup. Every tenant-owned row points here."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)
    currency = models.CharField(max_length=3, default="USD", help_text="ISO 4217 reporting currency")
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


def org_foreign_key(**options):
    """The `org` column of a tenant-owned model; `options` are what a model's own `org` changes (a reverse name,
    no index of its own, no database constraint)."""
    return models.ForeignKey(Organization, on_delete=models.CASCADE, **{"related_name": "+", **options})


class OrgOwned(models.Model):
    """The base of every tenant-owned model: the required `org` and the one org-scoped manager, so every read can
    start with `Model.objects.for_org(org)`. A model whose `org` differs redeclares only the field (with
    `org_foreign_key(...)`, or a OneToOneField for one row per organisation) and keeps the manager."""

    org = org_foreign_key()

    objects = OrgQuerySet.as_manager()

    class Meta:
        abstract = True


class OrgOwnedWithCode(OrgOwned):
    """A tenant-owned model that appears in URLs: adds the public UUID `code` (URLs never carry integer pks)."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    class Meta:
        abstract = True


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


WRITE_ROLES = frozenset({Role.OWNER, Role.MEMBER})


class Membership(OrgOwnedWithCode):
    org = org_foreign_key(related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    weekly_digest = models.BooleanField(
        default=True, help_text="E-mail this member the organisation's weekly digest every Monday"
    )
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "user"], name="membership_unique_org_user")]
        ordering = ["created_at"]

    def __str__(self):
        return f"{self.user} in {self.org} ({self.role})"

    @property
    def can_write(self) -> bool:
        return self.role in WRITE_ROLES

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER


class Invitation(OrgOwnedWithCode):
    """An e-mailed, single-use, expiring link that turns into a membership."""

    org = org_foreign_key(related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["org", "email"])]

    def __str__(self):
        return f"{self.email} to {self.org}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= dj_timezone.now()

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and not self.is_expired


class Scope(models.TextChoices):
    READ = "read", "Read only"
    WRITE = "write", "Read and write"


class SecretTokenBase(OrgOwnedWithCode):
    """Shared shape of API keys and agent tokens: shown once, stored as a SHA-256 hash."""

    prefix = models.CharField(max_length=16, help_text="The first characters, kept in clear to recognise it")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=dj_timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ApiKey(SecretTokenBase):
    """A per-organisation key for the REST API, read-only or read-write."""

    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=5, choices=Scope.choices, default=Scope.READ)

    class Meta(SecretTokenBase.Meta):
        indexes = [models.Index(fields=["org", "-created_at"])]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"


class AgentToken(SecretTokenBase):
    """A token for one GPU host's agent; it can only push samples for that host."""

    host_name = models.CharField(max_length=255)

    class Meta(SecretTokenBase.Meta):
        indexes = [models.Index(fields=["org", "host_name"])]

    def __str__(self):
        return f"{self.host_name} ({self.prefix}…)"


class OnboardingState(OrgOwned):
    """An organisation's onboarding checklist beyond what its data shows: the one fix it chose.

    The fix is a Founder Table row key kept as text (`idle_gpu`, `free_trial`, ...): the rows are defined in
    finops, which sits above accounts. The other six steps tick from the data and store nothing."""

    org = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="+")
    chosen_fix = models.CharField(max_length=40, blank=True, help_text="The Founder Table row whose move is the fix")
    chosen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    chosen_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"onboarding of {self.org_id}: {self.chosen_fix or 'no fix chosen'}"
