from datetime import date
from decimal import Decimal

from django import forms

from finops.economics import rows
from finops.economics.budgets import target_error
from finops.economics.guided_check import FounderInputs
from finops.models import (
    RULE_BUCKETS,
    Bucket,
    BucketRule,
    Budget,
    Commitment,
    EconomicsSettings,
    LearningQuestion,
    Release,
)
from pricing.build_rent import BuyCosts, RentRates, Scenario

BLEND_MEASURES = ("gpu_hours", "tokens", "requests", "even")


def _pairs_text(pairs: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in (pairs or {}).items())


MAX_RATE = Decimal(10**6)  # one unit of a currency in another: the stored rate holds under 1e10
MAX_WEIGHT = Decimal(10**6)  # blend weights are relative: any finite spread fits under this


def _finite(name: str, value: str, *, maximum: Decimal, what: str) -> Decimal:
    """`value` as a finite Decimal below `maximum`, else a ValidationError naming `name`."""
    try:
        number = Decimal(value)
    except ArithmeticError as exc:
        raise forms.ValidationError(f"{name}: {value[:40]} is not a number.") from exc
    if not number.is_finite() or number >= maximum:
        raise forms.ValidationError(f"{name}: {what} is a finite number below {maximum:,}, not {value[:40]}.")
    return number


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


def _plain(number: Decimal) -> str:
    """A Decimal as plain text without trailing zeros or an exponent: 25.00 -> '25', 0.2500 -> '0.25'."""
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "") else text


THRESHOLD_HELP_BY_UNIT = {
    rows.Unit.SHARE: "In %, 0 to 100 (type 25 for 25%)",
    rows.Unit.HOURS: "In hours, 0 or more",
    rows.Unit.DAYS: "In days, 0 or more",
    rows.Unit.COUNT: "A count, 0 or more",
    rows.Unit.NUMBER: "0 or more",
}


def threshold_field(row, threshold, currency: str) -> forms.DecimalField:
    """The thresholds page's field for a threshold, in the unit a person types: a share as a percentage from 0 to
    100, money in the organisation's currency, hours, days and counts as they are; never negative."""
    share = threshold.unit == rows.Unit.SHARE
    refusal = "Enter a percentage from 0 to 100 (25 means 25%%)." if share else "Enter a number of 0 or more."
    money = threshold.unit == rows.Unit.MONEY
    field = forms.DecimalField(
        label=rows.threshold_help(row, threshold) + (" (%)" if share else ""),
        help_text=f"In {currency}, 0 or more" if money else THRESHOLD_HELP_BY_UNIT[threshold.unit],
        min_value=Decimal(0), max_value=Decimal(100) if share else None, max_digits=14, decimal_places=4,
        error_messages={"min_value": refusal, "max_value": refusal},  # %% : Django formats these with the limit
    )  # fmt: skip
    field.unit = threshold.unit  # what the number is (money, share, hours, days), for showing it
    return field


def threshold_as_typed(threshold, value: Decimal) -> Decimal:
    """A stored threshold as the page shows it: a share as a percentage (0.1 -> 10), others unchanged."""
    if threshold.unit == rows.Unit.SHARE:
        return Decimal(_plain(value * 100))
    return value


def threshold_from_typed(threshold, typed: Decimal) -> Decimal:
    """What a person typed as the threshold stored: a percentage as a share, exactly (25 -> 0.25)."""
    if threshold.unit == rows.Unit.SHARE:
        return Decimal(_plain(typed / 100))
    return typed


def threshold_form_data(values: dict) -> dict:
    """{'t_<key>': text} for the thresholds form from stored thresholds ({key: value}), as a person would type them:
    for tests and anything that posts the form."""
    declared = {threshold.key: threshold for _, threshold in rows.thresholds()}
    return {f"t_{key}": _plain(threshold_as_typed(declared[key], Decimal(str(value)))) for key, value in values.items()}


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
            "payment_fee_pct",
            "payment_fee_fixed_amount",
        ]
        labels = {
            "shared_cost_key": "Untagged cloud costs",
            "api_gap_key": "Token spend the logs do not explain",
            "electricity_price_amount": "Electricity price per kWh",
            "pue": "PUE",
            "target_margin_pct": "Target margin %",
            "payment_fee_pct": "Payment fee %",
            "payment_fee_fixed_amount": "Payment fee per payment",
        }

    def __init__(self, *args, current_rates=(), **kwargs):
        super().__init__(*args, **kwargs)
        saved = self.instance.thresholds or {}
        declared = rows.thresholds()  # the registry's, in the table's order
        self.declared_thresholds = [threshold for _, threshold in declared]
        currency = self.instance.org.currency if self.instance.org_id else "USD"
        for row, threshold in declared:
            field = threshold_field(row, threshold, currency)
            field.initial = threshold_as_typed(threshold, Decimal(str(saved.get(threshold.key, threshold.default))))
            self.fields[f"t_{threshold.key}"] = field
        self.fields["deferrable_features_text"].initial = ", ".join(self.instance.deferrable_features or [])
        self.fields["blend_text"].initial = _pairs_text(self.instance.blend_weights)
        self.fields["group_keys_text"].initial = _pairs_text(self.instance.group_keys)
        self.fields["rates_text"].initial = _pairs_text(dict(current_rates or ()))

    def threshold_fields(self):
        return [self[f"t_{threshold.key}"] for threshold in self.declared_thresholds]

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
            rate = _finite(currency, value, maximum=MAX_RATE, what="a rate")
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
            weight = _finite(name, value, maximum=MAX_WEIGHT, what="a weight")
            if weight < 0:
                raise forms.ValidationError(f"{name}: weights are zero or more.")
            weights[name] = str(weight)
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
        """Only the thresholds that differ from the defaults, as decimal text in the stored unit (a share typed as
        25 is '0.25')."""
        stored = {
            threshold.key: threshold_from_typed(threshold, self.cleaned_data[f"t_{threshold.key}"])
            for threshold in self.declared_thresholds
        }
        return {
            threshold.key: _plain(stored[threshold.key])
            for threshold in self.declared_thresholds
            if stored[threshold.key] != threshold.default
        }

    def deferrable_features(self) -> list[str]:
        return sorted({f.strip() for f in self.cleaned_data["deferrable_features_text"].split(",") if f.strip()})


class BucketRuleForm(forms.ModelForm):
    # A rule places work: idle and unmeasured are what the agent saw (or did not see), never a rule's answer.
    bucket = forms.ChoiceField(
        choices=[(value, label) for value, label in Bucket.choices if value in RULE_BUCKETS], label="the cost lands in"
    )

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


BUILD_DEFAULTS = {
    "gpu_count": 8,
    "months": 36,
    "utilisation_pct": Decimal(50),
    "spot_overhead_pct": Decimal(15),
    "lifetime_months": 48,
    "electricity_price_amount": Decimal("0.15"),
    "pue": Decimal("1.4"),
    "hosting_amount": Decimal(150),
}
STAFF_PER_GPU_AMOUNT = Decimal(250)  # a month: an 8-GPU server takes about a tenth of an engineer
RATE_INPUTS = {"on_demand": "on_demand_hourly_amount", "reserved_1y": "reserved_1y_hourly_amount",
               "reserved_3y": "reserved_3y_hourly_amount", "spot": "spot_hourly_amount"}  # fmt: skip


def _amount_field(label, *, places=4, required=True, help_text=""):
    return forms.DecimalField(label=label, required=required, min_value=Decimal(0), max_digits=16,
                              decimal_places=places, help_text=help_text)  # fmt: skip


def _plain(value) -> str:
    """A value as an input shows it: decimals without trailing zeros ("2.5", not "2.5000000000"), None blank."""
    if value is None:
        return ""
    return format(value.normalize(), "f") if isinstance(value, Decimal) else str(value)


def measured_pct(measured: dict | None) -> Decimal | None:
    """The measured utilisation as the calculator shows it: a percentage with one decimal."""
    return None if measured is None else (measured["utilisation"] * 100).quantize(Decimal("0.1"))


def build_rent_data(query, *, rate, measured: dict | None, settings, currency: str) -> dict:
    """The calculator's inputs: the query's values when they were filled for this GPU type, else the rate card's
    prices, the measured utilisation and GPU count (else 50% of 8 GPUs) and the defaults, keeping the horizon."""
    data = {**BUILD_DEFAULTS, "gpu_type": rate.gpu_type, "filled_for": rate.gpu_type,
            "purchase_amount": rate.purchase_amount, "power_watts": rate.power_watts}  # fmt: skip
    data.update({name: getattr(rate, field) for name, field in RATE_INPUTS.items()})
    if measured is not None:
        data["utilisation_pct"], data["gpu_count"] = measured_pct(measured), measured["gpus"]
    data["staff_amount"] = STAFF_PER_GPU_AMOUNT * data["gpu_count"]
    if settings.electricity_price_amount and currency == settings.org.currency:
        data["electricity_price_amount"], data["pue"] = settings.electricity_price_amount, settings.pue
    data = {key: _plain(value) for key, value in data.items()}
    if query.get("filled_for") == rate.gpu_type:
        data.update({key: query[key] for key in data if key in query})
    else:
        data.update({key: query[key] for key in ("months",) if query.get(key)})
    return data


class BuildRentForm(forms.Form):
    """The build-versus-rent calculator (a GET form): one GPU type, rented three ways or bought."""

    gpu_type = forms.ChoiceField(label="GPU type")
    filled_for = forms.CharField(widget=forms.HiddenInput, required=False)
    gpu_count = forms.IntegerField(label="GPUs", min_value=1, max_value=100_000)
    months = forms.IntegerField(label="Horizon (months)", min_value=1, max_value=120)
    utilisation_pct = forms.DecimalField(label="Utilisation %", min_value=0, max_value=100, max_digits=4,
                                         decimal_places=1)  # fmt: skip
    on_demand = _amount_field("On-demand", required=False, help_text="Blank: not offered")
    reserved_1y = _amount_field("Reserved, 1 year", required=False, help_text="Every hour is paid")
    reserved_3y = _amount_field("Reserved, 3 years", required=False, help_text="Every hour is paid")
    spot = _amount_field("Spot", required=False, help_text="Blank: not offered")
    spot_overhead_pct = forms.DecimalField(
        label="Spot interruption overhead %", min_value=0, max_value=500, max_digits=5, decimal_places=1,
        help_text="Work redone or checkpointed after preemptions",
    )  # fmt: skip
    purchase_amount = _amount_field("Purchase price", places=2, help_text="Its share of the server included")
    lifetime_months = forms.IntegerField(label="Lifetime (months)", min_value=1, max_value=120,
                                         help_text="Then bought again")  # fmt: skip
    power_watts = forms.IntegerField(label="Power draw (W)", min_value=0, max_value=100_000,
                                     help_text="Average, with its share of the server")  # fmt: skip
    electricity_price_amount = _amount_field("Electricity per kWh", help_text="The thresholds page's, when set")
    pue = forms.DecimalField(label="PUE", min_value=1, max_value=5, max_digits=4, decimal_places=2,
                             help_text="Data-centre overhead on the power")  # fmt: skip
    hosting_amount = _amount_field("Hosting a month", places=2, help_text="Rack space, network, hands")
    staff_amount = _amount_field("Staff share a month", places=2, help_text="For all the GPUs together")

    PLAN_FIELDS = ("gpu_type", "gpu_count", "months", "utilisation_pct")
    RENT_FIELDS = ("on_demand", "reserved_1y", "reserved_3y", "spot", "spot_overhead_pct")
    BUY_FIELDS = ("purchase_amount", "lifetime_months", "power_watts", "electricity_price_amount", "pue",
                  "hosting_amount", "staff_amount")  # fmt: skip

    def __init__(self, *args, gpu_types, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.fields["gpu_type"].choices = [(name, name) for name in gpu_types]

    def plan_fields(self):
        return [self[name] for name in self.PLAN_FIELDS]

    def rent_fields(self):
        return [self[name] for name in self.RENT_FIELDS]

    def buy_fields(self):
        return [self[name] for name in self.BUY_FIELDS]

    def scenario(self) -> Scenario:
        data = self.cleaned_data
        return Scenario(
            gpu_count=data["gpu_count"],
            months=data["months"],
            utilisation=data["utilisation_pct"] / 100,
            rent=RentRates(**{name: data[name] for name in (*RATE_INPUTS, "spot_overhead_pct")}),
            buy=BuyCosts(
                purchase_amount=data["purchase_amount"],
                lifetime_months=data["lifetime_months"],
                power_watts=Decimal(data["power_watts"]),
                electricity_price_amount=data["electricity_price_amount"],
                pue=data["pue"],
                hosting_amount=data["hosting_amount"],
                staff_amount=data["staff_amount"],
            ),
        )


class GpuRateForm(forms.Form):
    """One GPU type's prices on the rate card."""

    match_name = forms.CharField(max_length=50, label="Agent GPU names containing",
                                 help_text="A whole word: H100 matches NVIDIA H100 80GB HBM3")  # fmt: skip
    on_demand_hourly_amount = _amount_field("On-demand, per GPU-hour", required=False)
    reserved_1y_hourly_amount = _amount_field("Reserved 1 year, per GPU-hour", required=False)
    reserved_3y_hourly_amount = _amount_field("Reserved 3 years, per GPU-hour", required=False)
    spot_hourly_amount = _amount_field("Spot, per GPU-hour", required=False)
    purchase_amount = _amount_field("Purchase price per GPU", places=2, help_text="Its share of the server included")
    power_watts = forms.IntegerField(label="Power draw per GPU (W)", min_value=0, max_value=100_000)
    currency = forms.CharField(max_length=3)
    source = forms.CharField(max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text="Where these prices come from: a quote, a provider's page")  # fmt: skip
    as_of = forms.DateField(label="Prices as of", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, rate, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.fields:
            value = getattr(rate, name)
            self.fields[name].initial = _plain(value) if isinstance(value, Decimal) else value

    def clean_currency(self):
        currency = self.cleaned_data["currency"].strip().upper()
        if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
            raise forms.ValidationError("Three letters, e.g. USD.")
        return currency


OPTIONAL_MONEY = {"required": False, "min_value": Decimal(0), "max_digits": 14, "decimal_places": 4}


class GuidedCheckForm(forms.Form):
    feature = forms.ChoiceField(label="Workflow (feature)")
    plan = forms.ChoiceField(label="Plan", required=False)
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="Until (excluded)", widget=forms.DateInput(attrs={"type": "date"}))
    support_per_job = forms.DecimalField(
        label="Support per job", help_text="support and review, one job", **OPTIONAL_MONEY
    )
    support_per_month = forms.DecimalField(
        label="or support per month", help_text="for all its customers", **OPTIONAL_MONEY
    )
    jobs_per_month = forms.DecimalField(
        label="Jobs per customer a month",
        help_text="empty: the jobs they ran",
        required=False,
        min_value=Decimal(1),
        max_digits=12,
        decimal_places=2,
    )
    price_per_job = forms.DecimalField(label="or price per job", help_text="when priced per job", **OPTIONAL_MONEY)

    def __init__(self, data, *, features: list[str], plans: list[str], start: date, end: date, currency: str):
        super().__init__(data)
        self.fields["feature"].choices = [(f, f) for f in features]
        self.fields["plan"].choices = [("", "All paid plans"), *((p, p) for p in plans)]
        self.fields["start"].initial, self.fields["end"].initial = start, end
        for name in ("support_per_job", "support_per_month", "price_per_job"):
            self.fields[name].label = f"{self.fields[name].label} ({currency})"

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            raise forms.ValidationError("The period ends after it starts.")
        if data.get("support_per_job") is not None and data.get("support_per_month") is not None:
            raise forms.ValidationError("Enter support per job or per month, not both.")
        if data.get("jobs_per_month") is not None and data.get("price_per_job") is not None:
            raise forms.ValidationError("Enter the jobs a customer gets or the price per job, not both.")
        return data

    def founder_inputs(self, target_margin: Decimal, fee_rate: Decimal, fee_fixed: Decimal) -> FounderInputs:
        data = self.cleaned_data
        return FounderInputs(
            fee_rate=fee_rate,
            fee_fixed=fee_fixed,
            support_per_job=data.get("support_per_job"),
            support_per_month=data.get("support_per_month"),
            jobs_per_month=data.get("jobs_per_month"),
            price_per_job=data.get("price_per_job"),
            target_margin=target_margin,
        )

    def input_fields(self):
        return [self[n] for n in ("support_per_job", "support_per_month", "jobs_per_month", "price_per_job")]

    def workflow_fields(self):
        return [self[n] for n in ("feature", "plan", "start", "end")]


class BudgetForm(forms.Form):
    """A budget as a person sets it: the alert as a percentage; amounts in the org's currency."""

    scope = forms.ChoiceField(choices=Budget.Scope.choices)
    target = forms.CharField(
        max_length=200, required=False, label="Customer, plan or feature",
        widget=forms.TextInput(attrs={"list": "budget-targets", "autocomplete": "off"}),
        help_text="As your events name it; empty for the whole organisation and for trial accounts",
    )  # fmt: skip
    period = forms.ChoiceField(choices=Budget.Period.choices, initial=Budget.Period.MONTH)
    amount = forms.DecimalField(max_digits=20, decimal_places=2, min_value=Decimal("0.01"))
    alert_pct = forms.IntegerField(
        min_value=1, max_value=100, initial=80, label="Alert at (% used)",
        help_text="E-mail the organisation's writers once per period",
    )  # fmt: skip

    def clean(self):
        data = super().clean()
        data["target"] = (data.get("target") or "").strip()
        error = target_error(data["scope"], data["target"]) if data.get("scope") else None
        if error:
            self.add_error("target", error)
        return data

    def budget_fields(self) -> dict:
        data = self.cleaned_data
        return {"scope": data["scope"], "target": data["target"], "period": data["period"],
                "amount": data["amount"], "alert_at": Decimal(data["alert_pct"]) / 100}  # fmt: skip
