from decimal import Decimal

from django import forms
from django.utils import timezone

from ingest import limits

# Per 1M tokens or per GPU-hour: far above any real price, low enough that a call's cost fits its column.
PRICE = {"required": False, "min_value": 0, "max_value": Decimal(10**4), "max_digits": 20, "decimal_places": 10}


class PriceOverrideForm(forms.Form):
    provider = forms.CharField(max_length=100, help_text="As your calls name it: openai, anthropic, self-hosted")
    model = forms.CharField(max_length=200, help_text="Exactly as your calls name it")
    effective_from = forms.DateField(
        label="From", widget=forms.DateInput(attrs={"type": "date"}), help_text="Calls on or after this UTC date"
    )
    currency = forms.CharField(max_length=3, min_length=3)
    input_per_mtok = forms.DecimalField(label="Input per 1M tokens", **PRICE)
    cached_input_per_mtok = forms.DecimalField(
        label="Cached input per 1M", help_text="Cache reads; blank means the input price", **PRICE
    )
    cache_write_per_mtok = forms.DecimalField(
        label="Cache writes per 1M", help_text="Blank means the input price", **PRICE
    )
    output_per_mtok = forms.DecimalField(label="Output per 1M tokens", **PRICE)
    gpu_hour_amount = forms.DecimalField(
        label="Or per GPU-hour",
        help_text="Self-hosted: prices only calls whose metadata has gpu_seconds",
        **PRICE,
    )
    note = forms.CharField(required=False, max_length=500, help_text="e.g. the contract or invoice it comes from")

    def __init__(self, *args, org=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["effective_from"].initial = timezone.now().date()
        if org is not None:
            self.fields["currency"].initial = org.currency

    def clean_effective_from(self):
        value = self.cleaned_data["effective_from"]
        try:
            return limits.day_check(value, end=True)
        except limits.LimitError as exc:
            raise forms.ValidationError(f"The date {exc}.") from None

    def clean_currency(self):
        value = self.cleaned_data["currency"].strip().upper()
        if not value.isalpha():
            raise forms.ValidationError("Use a three-letter ISO 4217 code such as USD.")
        return value

    def clean_provider(self):
        return self.cleaned_data["provider"].strip().lower()


class StripeConnectionForm(forms.Form):
    api_key = forms.CharField(
        label="Restricted key",
        required=False,
        max_length=255,
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "placeholder": "rk_live_..."}),
        help_text="Read-only on customers, products, prices, subscriptions, invoices. Blank keeps the stored one.",
    )
    webhook_secret = forms.CharField(
        label="Webhook signing secret",
        required=False,
        max_length=255,
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "placeholder": "whsec_..."}),
        help_text="From the webhook endpoint you add in Stripe. Blank keeps the stored one.",
    )


class StripeCustomerMapForm(forms.Form):
    code = forms.UUIDField(widget=forms.HiddenInput)
    customer_id = forms.CharField(
        label="Our customer id", required=False, max_length=200, help_text="Blank goes back to the metadata's id"
    )
