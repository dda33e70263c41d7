"""Writes of the onboarding checklist: the one fix an organisation commits to."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import OnboardingState
from finops.economics.rows import ROWS


@transaction.atomic
def onboarding_fix_choose(*, org, fix: str, user) -> OnboardingState:
    """The organisation's onboarding state with `fix`, a Founder Table row key, as its chosen fix (step 7)."""
    if fix not in {row.key for row in ROWS}:
        raise ValidationError("Choose one of the Founder Table rows.")
    state, _ = OnboardingState.objects.update_or_create(
        org=org, defaults={"chosen_fix": fix, "chosen_by": user, "chosen_at": timezone.now()}
    )
    return state
