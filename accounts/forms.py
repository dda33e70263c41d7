from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm

from accounts.models import TIMEZONE_CHOICES, Role, Scope, User


class LoginForm(AuthenticationForm):
    username = forms.EmailField(
        label="E-mail", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )


class SignupForm(forms.Form):
    email = forms.EmailField(label="Work e-mail", widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters, not all digits, not a common password.",
    )

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        if User.objects.filter(email=email).exists():
            raise forms.ValidationError("An account with this e-mail already exists. Log in instead.")
        return email

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("email") and cleaned.get("password"):
            try:
                password_validation.validate_password(cleaned["password"], User(email=cleaned["email"]))
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


class CurrencyField(forms.CharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=3, min_length=3, help_text="ISO 4217 code, e.g. USD, EUR", **kwargs)

    def clean(self, value):
        value = super().clean(value).upper()
        if not value.isalpha():
            raise forms.ValidationError("Use a three-letter ISO 4217 code such as USD.")
        return value


class OrganizationForm(forms.Form):
    name = forms.CharField(max_length=100, label="Company name")
    currency = CurrencyField(initial="USD")
    timezone = forms.ChoiceField(choices=TIMEZONE_CHOICES, initial="UTC")


class InvitationForm(forms.Form):
    email = forms.EmailField(label="E-mail")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class MembershipRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses it, e.g. 'billing exporter'")
    scope = forms.ChoiceField(choices=Scope.choices, initial=Scope.READ)


class AgentTokenForm(forms.Form):
    host_name = forms.CharField(
        max_length=255, label="Host name", help_text="The GPU box this agent runs on, e.g. gpu-a100-01"
    )


class DigestPreferenceForm(forms.Form):
    weekly_digest = forms.BooleanField(required=False, label="E-mail me the weekly digest")
