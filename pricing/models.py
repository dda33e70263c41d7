import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Organization
from accounts.tenancy import OrgQuerySet
from finops.money import MoneyField


class PriceOverride(models.Model):
    """The organisation's own price for one provider's model from a date on.

    A negotiated rate, a fine-tune or a model the public catalogue does not know. It replaces the
    catalogue for calls on or after `effective_from` (a UTC date) until a later override of the same
    model. Either per-million-token prices or, for self-hosted models, a price per GPU-hour: a GPU-hour
    price cannot price a call from its tokens, so it prices only calls whose metadata carries
    `gpu_seconds` (cost = gpu_seconds / 3600 x gpu_hour_amount); other calls stay unpriced.
    """

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
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

    objects = OrgQuerySet.as_manager()

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
