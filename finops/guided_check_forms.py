"""The guided pricing check's GET form: the workflow, the period and what the data cannot know.

(Its own module while finops/forms.py is being edited elsewhere; it belongs there.)"""

from datetime import date
from decimal import Decimal

from django import forms

from finops.economics.guided_check import FounderInputs

MONEY = {"required": False, "min_value": Decimal(0), "max_digits": 14, "decimal_places": 4}


class GuidedCheckForm(forms.Form):
    feature = forms.ChoiceField(label="Workflow (feature)")
    plan = forms.ChoiceField(label="Plan", required=False)
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="Until (excluded)", widget=forms.DateInput(attrs={"type": "date"}))
    support_per_job = forms.DecimalField(label="Support per job", help_text="support and review, one job", **MONEY)
    support_per_month = forms.DecimalField(label="or support per month", help_text="for all its customers", **MONEY)
    jobs_per_month = forms.DecimalField(
        label="Jobs per customer a month",
        help_text="empty: the jobs they ran",
        required=False,
        min_value=Decimal(1),
        max_digits=12,
        decimal_places=2,
    )
    price_per_job = forms.DecimalField(label="or price per job", help_text="when priced per job", **MONEY)

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

    def founder_inputs(self, target_margin: Decimal) -> FounderInputs:
        data = self.cleaned_data
        return FounderInputs(
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
