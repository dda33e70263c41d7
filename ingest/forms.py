from decimal import Decimal

from django import forms

from ingest.sources import BILL_SOURCES, SOURCES_BY_NAME, USAGE_SOURCES
from ingest.sources.mapped_csv import MAPPABLE_FIELDS, REQUIRED_FIELDS


class UploadForm(forms.Form):
    file = forms.FileField(help_text="CSV, JSON lines or Parquet; gzip or zip compressed is fine")
    kind = forms.ChoiceField(
        choices=[
            ("bill", "Cloud bill or cost report"),
            ("usage", "LLM usage log"),
            ("revenue", "Stripe export (customers, subscriptions or invoices)"),
        ],
        initial="bill",
        label="What is it?",
    )
    format = forms.ChoiceField(required=False, label="Format")
    mapping = forms.ChoiceField(required=False, label="Saved column mapping")

    def clean(self):
        cleaned = super().clean()
        chosen = SOURCES_BY_NAME.get(cleaned.get("format") or "")
        if chosen and cleaned.get("kind") and chosen.kind != cleaned["kind"]:
            self.add_error("format", f"{chosen.label} does not fit this kind of file.")
        return cleaned

    def __init__(self, *args, mappings=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["format"].choices = [("", "Detect from the header")] + [
            (s.name, s.label) for s in (*BILL_SOURCES, *USAGE_SOURCES) if s.name != "mapped_csv"
        ]
        self.fields["mapping"].choices = [("", "None")] + [(str(m.code), m.name) for m in mappings]


class ColumnMappingForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="e.g. Lambda invoices")
    provider = forms.CharField(max_length=100, help_text="Shown as the provider of every line, e.g. Lambda")
    currency = forms.CharField(max_length=3, min_length=3, initial="USD", help_text="When the file has no currency")

    def __init__(self, *args, columns=(), **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "—")] + [(c, c) for c in columns]
        for field, label in MAPPABLE_FIELDS.items():
            self.fields[f"col_{field}"] = forms.ChoiceField(
                choices=choices, label=label, required=field in REQUIRED_FIELDS
            )
        self.fields["col_tags"] = forms.MultipleChoiceField(
            choices=choices[1:],
            required=False,
            label="Tag columns (customer, team, project…)",
            widget=forms.SelectMultiple(attrs={"size": min(8, max(3, len(columns)))}),
        )

    def clean_currency(self):
        value = self.cleaned_data["currency"].upper()
        if not value.isalpha():
            raise forms.ValidationError("Use a three-letter ISO 4217 code such as USD.")
        return value

    def mapping_columns(self) -> dict:
        columns = {f: self.cleaned_data[f"col_{f}"] for f in MAPPABLE_FIELDS if self.cleaned_data.get(f"col_{f}")}
        columns["tags"] = list(self.cleaned_data.get("col_tags") or [])
        return columns


class GpuHostForm(forms.Form):
    owner = forms.CharField(max_length=200, required=False, help_text="Who answers for its idle time, e.g. ml-platform")
    provider = forms.CharField(max_length=100, required=False, help_text="e.g. AWS, Lambda, on-premises")
    instance_type = forms.CharField(max_length=100, required=False, help_text="e.g. p5.48xlarge")
    bill_resource_id = forms.CharField(
        max_length=500, required=False, label="Bill resource id", help_text="The resource id of its bill lines"
    )
    hourly_rate_amount = forms.DecimalField(
        required=False,
        min_value=Decimal(0),
        max_digits=20,
        decimal_places=10,
        label="Hourly rate",
        help_text="Owned hardware with no bill line: the whole host, per hour",
    )
    currency = forms.CharField(max_length=3, required=False, help_text="ISO 4217; blank is the organisation's")
    forget_machine = forms.BooleanField(
        required=False,
        label="Forget the recorded machine",
        help_text="The agent moved to a replacement machine: the next machine to report with this host's token "
        "is recorded instead, and the old one is refused",
    )

    def __init__(self, *args, default_currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.default_currency = default_currency
        self.fields["currency"].widget.attrs["placeholder"] = default_currency

    def clean_currency(self):
        value = self.cleaned_data["currency"].upper() or self.default_currency
        if len(value) != 3 or not value.isascii() or not value.isalpha():
            raise forms.ValidationError("Use a three-letter ISO 4217 code such as USD.")
        return value


class GpuResourceMarkForm(forms.Form):
    """Is this bill resource a GPU host? The answer wins over what its names say."""

    CHOICES = (("yes", "A GPU host"), ("no", "Not a GPU host"), ("auto", "Let its bill's names decide"))

    resource_id = forms.CharField(max_length=500, label="Resource id", help_text="As the bill lines name it")
    verdict = forms.ChoiceField(choices=CHOICES, initial="yes", widget=forms.RadioSelect)

    def clean(self):
        data = super().clean()
        data["is_gpu"] = {"yes": True, "no": False, "auto": None}.get(data.get("verdict"))
        return data


class ConnectorForm(forms.Form):
    """A connector's settings, built from its plug-in's fields; secret fields are password inputs never filled
    back in (on edit, blank keeps the stored secret)."""

    name = forms.CharField(max_length=100, help_text="e.g. 'AWS production'")
    schedule_hour = forms.TypedChoiceField(
        coerce=int,
        choices=[(hour, f"{hour:02d}:00 UTC") for hour in range(24)],
        initial=6,
        label="Pull daily at",
    )

    def __init__(self, *args, source, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.source = source
        for field in source.fields:
            keep = editing and field.secret
            self.fields[field.name] = forms.CharField(
                label=field.label,
                required=field.required and not keep,
                help_text=" ".join(filter(None, [field.help, "Leave blank to keep the stored one." if keep else ""])),
                initial=field.default or None,
                widget=forms.PasswordInput(render_value=False) if field.secret else forms.TextInput(),
            )
        if editing:
            self.fields["enabled"] = forms.BooleanField(required=False, label="Pull daily (off: only Run now)")

    def values(self) -> dict:
        """The plug-in fields' values, for connector_create/connector_update."""
        return {field.name: self.cleaned_data.get(field.name, "") for field in self.source.fields}
