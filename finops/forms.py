from decimal import Decimal

from django import forms

from finops.economics.rules import DEFAULT_THRESHOLDS, THRESHOLD_HELP
from finops.models import BucketRule, Commitment, EconomicsSettings, LearningQuestion, Release

BLEND_MEASURES = ("gpu_hours", "tokens", "requests", "even")


def _pairs_text(pairs: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in (pairs or {}).items())


def _parse_pairs(text: str) -> dict:
    """'a=1, b=2' -> {'a': '1', 'b': '2'}; a part without '=' is an error."""
    pairs = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise forms.ValidationError(f"'{part.strip()}' is not name=value.")
        pairs[name.strip()] = value.strip()
    return pairs


class EconomicsSettingsForm(forms.ModelForm):
    """The stop-sign thresholds (defaults prefilled) and the allocation choices of an organisation."""

    deferrable_features_text = forms.CharField(
        required=False, label="Deferrable features", help_text="Comma-separated: work that could wait for batch prices"
    )
    blend_text = forms.CharField(
        required=False,
        label="Blend weights",
        help_text="For the blend key: gpu_hours=0.5, tokens=0.5",
    )
    rates_text = forms.CharField(
        required=False, label="Exchange rates", help_text="One unit in the org's currency, from today: EUR=1.08"
    )
    group_keys_text = forms.CharField(
        required=False,
        label="Keys per cost group",
        help_text="Service patterns: *Storage*=tokens, EKS*=even",
    )

    class Meta:
        model = EconomicsSettings
        fields = [
            "shared_cost_key",
            "api_gap_key",
            "electricity_price_amount",
            "pue",
            "target_margin_pct",
            "trial_plan",
        ]
        labels = {
            "shared_cost_key": "Untagged cloud costs",
            "api_gap_key": "Token spend the logs do not explain",
            "electricity_price_amount": "Electricity price per kWh",
            "pue": "PUE",
            "target_margin_pct": "Target margin %",
        }

    def __init__(self, *args, current_rates=(), **kwargs):
        super().__init__(*args, **kwargs)
        saved = self.instance.thresholds or {}
        for key, default in DEFAULT_THRESHOLDS.items():
            self.fields[f"t_{key}"] = forms.DecimalField(
                label=THRESHOLD_HELP[key], min_value=Decimal(0), max_digits=14, decimal_places=4,
                initial=Decimal(str(saved.get(key, default))),
            )  # fmt: skip
        self.fields["deferrable_features_text"].initial = ", ".join(self.instance.deferrable_features or [])
        self.fields["blend_text"].initial = _pairs_text(self.instance.blend_weights)
        self.fields["group_keys_text"].initial = _pairs_text(self.instance.group_keys)
        self.fields["rates_text"].initial = _pairs_text(dict(current_rates or ()))

    def threshold_fields(self):
        return [self[f"t_{key}"] for key in DEFAULT_THRESHOLDS]

    def setting_fields(self):
        return [
            self[name]
            for name in (*self.Meta.fields, "deferrable_features_text", "blend_text", "group_keys_text", "rates_text")
        ]

    def clean_rates_text(self) -> dict:
        rates = {}
        for currency, value in _parse_pairs(self.cleaned_data["rates_text"]).items():
            code = currency.upper()
            if len(code) != 3 or not code.isalpha():
                raise forms.ValidationError(f"{currency}: a currency is three letters, e.g. EUR.")
            try:
                rate = Decimal(value)
            except ArithmeticError as exc:
                raise forms.ValidationError(f"{currency}: {value} is not a number.") from exc
            if rate <= 0 or rate.as_tuple().exponent < -10:
                raise forms.ValidationError(f"{currency}: a rate above zero, with at most 10 decimals.")
            rates[code] = rate
        return rates

    def clean_blend_text(self) -> dict:
        pairs = _parse_pairs(self.cleaned_data["blend_text"])
        weights = {}
        for name, value in pairs.items():
            if name not in BLEND_MEASURES:
                raise forms.ValidationError(f"{name}: blend gpu_hours, tokens, requests or even.")
            try:
                weights[name] = str(Decimal(value))
            except ArithmeticError as exc:
                raise forms.ValidationError(f"{name}: {value} is not a number.") from exc
            if Decimal(value) < 0:
                raise forms.ValidationError(f"{name}: weights are zero or more.")
        if self.cleaned_data.get("shared_cost_key") == "blend" and not weights:
            raise forms.ValidationError("The blend key needs weights.")
        return weights

    def clean_group_keys_text(self) -> dict:
        pairs = _parse_pairs(self.cleaned_data["group_keys_text"])
        for pattern, key in pairs.items():
            if key not in EconomicsSettings.Key.values:
                raise forms.ValidationError(f"{pattern}: the key is one of {', '.join(EconomicsSettings.Key.values)}.")
        return pairs

    def thresholds(self) -> dict:
        """Only the thresholds that differ from the defaults, as decimal text."""
        return {
            key: str(self.cleaned_data[f"t_{key}"])
            for key, default in DEFAULT_THRESHOLDS.items()
            if self.cleaned_data[f"t_{key}"] != default
        }

    def deferrable_features(self) -> list[str]:
        return sorted({f.strip() for f in self.cleaned_data["deferrable_features_text"].split(",") if f.strip()})


class BucketRuleForm(forms.ModelForm):
    class Meta:
        model = BucketRule
        fields = ["field", "pattern", "bucket"]
        labels = {"field": "When", "pattern": "matches", "bucket": "the cost lands in"}
        help_texts = {"pattern": "Case-insensitive; * matches anything, e.g. eval*"}


class ReleaseForm(forms.ModelForm):
    class Meta:
        model = Release
        fields = ["name", "released_at"]
        labels = {"released_at": "Released at (UTC)"}
        widgets = {"released_at": forms.DateTimeInput(attrs={"type": "datetime-local"})}


class LearningQuestionForm(forms.ModelForm):
    class Meta:
        model = LearningQuestion
        fields = ["run", "question", "decision"]
        labels = {"run": "Run (its job id)", "question": "Learning question", "decision": "Decision it supports"}
        help_texts = {"run": ""}
        widgets = {"question": forms.Textarea(attrs={"rows": 2}), "decision": forms.Textarea(attrs={"rows": 2})}


class CommitmentForm(forms.ModelForm):
    class Meta:
        model = Commitment
        fields = ["name", "kind", "provider", "hosts", "monthly_amount", "currency", "starts_on", "ends_on",
                  "promised_revenue_amount"]  # fmt: skip
        labels = {"monthly_amount": "Cost per month", "promised_revenue_amount": "Revenue it serves per month"}
        widgets = {
            "starts_on": forms.DateInput(attrs={"type": "date"}),
            "ends_on": forms.DateInput(attrs={"type": "date"}),
        }

    def clean_currency(self):
        currency = self.cleaned_data["currency"].strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            raise forms.ValidationError("Three letters, e.g. USD.")
        return currency

    def clean(self):
        data = super().clean()
        if data.get("monthly_amount") is not None and data["monthly_amount"] < 0:
            self.add_error("monthly_amount", "A commitment costs zero or more.")
        if data.get("kind") == Commitment.Kind.GPU_RESERVATION and not (data.get("hosts") or "").strip():
            self.add_error("hosts", "Name the GPU hosts the reservation covers, so their use can be measured.")
        if data.get("ends_on") and data.get("starts_on") and data["ends_on"] <= data["starts_on"]:
            self.add_error("ends_on", "The end comes after the start.")
        return data
