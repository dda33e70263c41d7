from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Organization, OrgOwned, OrgOwnedWithCode
from finops.money import MoneyField


class PriceOverride(OrgOwnedWithCode):
    """The organisation's own price for one provider's model from a date on.

    A negotiated rate, a fine-tune or a model the public catalogue does not know. It replaces the
    catalogue for calls on or after `effective_from` (a UTC date) until a later override of the same
    model. Either per-million-token prices or, for self-hosted models, a price per GPU-hour: a GPU-hour
    price cannot price a call from its tokens, so it prices only calls whose metadata carries
    `gpu_seconds` (cost = gpu_seconds / 3600 x gpu_hour_amount); other calls stay unpriced.
    """

    provider = models.CharField(max_length=100, help_text="Lower case, as the calls name it: openai, self-hosted")
    model = models.CharField(max_length=200, help_text="Exactly as the calls name it")
    effective_from = models.DateField(help_text="Calls on or after this UTC date use this price")
    currency = models.CharField(max_length=3)
    input_per_mtok = MoneyField(null=True, blank=True, help_text="Per million input tokens (not cached)")
    cached_input_per_mtok = MoneyField(null=True, blank=True, help_text="Per million cache-read tokens")
    cache_write_per_mtok = MoneyField(null=True, blank=True, help_text="Per million cache-write tokens")
    output_per_mtok = MoneyField(null=True, blank=True, help_text="Per million output tokens")
    gpu_hour_amount = MoneyField(null=True, blank=True, help_text="Per GPU-hour, for self-hosted models")
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["provider", "model", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["org", "provider", "model", "effective_from"], name="priceoverride_unique_model_date"
            )
        ]

    def __str__(self):
        return f"{self.provider}/{self.model} from {self.effective_from}"

    @property
    def is_gpu_hour(self) -> bool:
        return self.gpu_hour_amount is not None


# Stripe revenue: the connection, then mirrors of Stripe's objects. Every mirror is unique by (org, stripe id)
# and carries `state_at`: when the Stripe state it holds was current (a webhook event's `created`, or the moment
# a sync read it), so an older event arriving late never overwrites newer state.


class StripeConnection(OrgOwnedWithCode):
    """An organisation's Stripe account: its restricted read-only key and webhook signing secret, both
    encrypted with a key derived from SECRET_KEY (`pricing/vault.py`) and never shown again but for their
    last four characters, and the sync's `created` cursors per object type."""

    org = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="+")
    api_key_encrypted = models.TextField(blank=True)
    api_key_last4 = models.CharField(max_length=4, blank=True)
    webhook_secret_encrypted = models.TextField(blank=True)
    webhook_secret_last4 = models.CharField(max_length=4, blank=True)
    cursors = models.JSONField(default=dict, blank=True, help_text="Object type to the newest `created` seen (epoch)")
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_sync_summary = models.CharField(max_length=300, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"Stripe for {self.org_id}"

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key_encrypted)

    @property
    def has_webhook_secret(self) -> bool:
        return bool(self.webhook_secret_encrypted)


class StripeObject(OrgOwned):
    stripe_id = models.CharField(max_length=255)
    livemode = models.BooleanField(default=False)
    metadata = models.JSONField(default=dict, blank=True)
    stripe_created = models.DateTimeField(null=True, blank=True)
    state_at = models.DateTimeField(help_text="When the Stripe state held here was current")
    # The revenue upload (a dashboard CSV export) that last wrote this row; None once a sync or webhook has written
    # Stripe's own state since. Deleting that upload deletes the row (pricing.services.stripe_csv.revenue_upload_delete
    # through settings.REVENUE_DELETER); SET_NULL so that no other deletion of an upload takes Stripe state with it.
    upload = models.ForeignKey(
        "ingest.Upload", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=True
    )

    class Meta:
        abstract = True

    def __str__(self):
        return self.stripe_id


def _unique(name: str):
    return [models.UniqueConstraint(fields=["org", "stripe_id"], name=f"{name}_unique_stripe_id")]


class StripeCustomer(StripeObject, OrgOwnedWithCode):
    """A Stripe customer and our customer id: the user's mapping, else metadata `customer_id`/`finops_customer`."""

    email = models.CharField(max_length=255, blank=True)
    name = models.CharField(max_length=255, blank=True)
    metadata_customer_id = models.CharField(max_length=200, blank=True)
    mapped_customer_id = models.CharField(max_length=200, blank=True, help_text="Set by a user; wins over metadata")
    customer_id = models.CharField(max_length=200, blank=True, db_index=True, help_text="Ours: mapped, else metadata")
    deleted = models.BooleanField(default=False)

    class Meta:
        ordering = ["email", "stripe_id"]
        constraints = _unique("stripecustomer")


class StripeProduct(StripeObject):
    name = models.CharField(max_length=255, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name", "stripe_id"]
        constraints = _unique("stripeproduct")


class StripePrice(StripeObject):
    """A price, or a legacy plan (Stripe lists recurring prices as plans too, under the same id)."""

    class Kind(models.TextChoices):
        PRICE = "price"
        PLAN = "plan"

    kind = models.CharField(max_length=5, choices=Kind.choices, default=Kind.PRICE)
    product = models.ForeignKey(StripeProduct, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    product_stripe_id = models.CharField(max_length=255, blank=True)
    nickname = models.CharField(max_length=255, blank=True)
    unit_amount = MoneyField(null=True, blank=True, help_text="Per unit and interval; null for tiered or metered")
    currency = models.CharField(max_length=3)
    interval = models.CharField(max_length=10, blank=True, help_text="day, week, month, year; blank for one-time")
    interval_count = models.PositiveIntegerField(default=1)
    usage_type = models.CharField(max_length=20, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["product_stripe_id", "stripe_id"]
        constraints = _unique("stripeprice")

    @property
    def plan_name(self) -> str:
        return self.nickname or (self.product.name if self.product else "") or self.stripe_id


class StripeSubscription(StripeObject, OrgOwnedWithCode):
    customer = models.ForeignKey(StripeCustomer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    customer_stripe_id = models.CharField(max_length=255)
    status = models.CharField(max_length=30)
    currency = models.CharField(max_length=3, blank=True)
    trial_start = models.DateTimeField(null=True, blank=True)
    trial_end = models.DateTimeField(null=True, blank=True)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    canceled_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["customer_stripe_id", "stripe_id"]
        constraints = _unique("stripesubscription")


class StripeSubscriptionItem(StripeObject):
    subscription = models.ForeignKey(StripeSubscription, on_delete=models.CASCADE, related_name="items")
    price = models.ForeignKey(StripePrice, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    price_stripe_id = models.CharField(max_length=255, blank=True)
    quantity = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["subscription_id", "stripe_id"]
        constraints = _unique("stripesubscriptionitem")


class StripeInvoice(StripeObject, OrgOwnedWithCode):
    """An invoice and what was actually paid. Amounts are Stripe's, from minor units; unknown stays null."""

    customer = models.ForeignKey(StripeCustomer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    customer_stripe_id = models.CharField(max_length=255, blank=True)
    subscription = models.ForeignKey(
        StripeSubscription, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    subscription_stripe_id = models.CharField(max_length=255, blank=True)
    number = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=20, blank=True)
    currency = models.CharField(max_length=3)
    due_amount = MoneyField(default=0)
    paid_amount = MoneyField(default=0)
    remaining_amount = MoneyField(null=True, blank=True)
    subtotal_amount = MoneyField(null=True, blank=True)
    total_amount = MoneyField(null=True, blank=True)
    tax_amount = MoneyField(null=True, blank=True)
    discount_amount = MoneyField(null=True, blank=True)
    credit_note_amount = MoneyField(null=True, blank=True, help_text="Pre- and post-payment credit notes")
    refunded_amount = MoneyField(null=True, blank=True, help_text="Refunded on the invoice's charge, where exposed")
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-stripe_created", "stripe_id"]
        constraints = _unique("stripeinvoice")


class StripeInvoiceLine(StripeObject):
    invoice = models.ForeignKey(StripeInvoice, on_delete=models.CASCADE, related_name="lines")
    price = models.ForeignKey(StripePrice, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    price_stripe_id = models.CharField(max_length=255, blank=True)
    subscription_stripe_id = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    quantity = models.PositiveIntegerField(null=True, blank=True)
    amount = MoneyField()
    currency = models.CharField(max_length=3)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    proration = models.BooleanField(default=False)

    class Meta:
        ordering = ["invoice_id", "stripe_id"]
        constraints = _unique("stripeinvoiceline")


class StripeEvent(OrgOwned):
    """A webhook event received: its id makes a replay harmless; `applied` is false when it was older than
    the state already held (or of a type we do not apply)."""

    stripe_id = models.CharField(max_length=255)
    type = models.CharField(max_length=100)
    stripe_created = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    applied = models.BooleanField(default=False)

    class Meta:
        ordering = ["-received_at"]
        constraints = _unique("stripeevent")

    def __str__(self):
        return f"{self.type} {self.stripe_id}"
