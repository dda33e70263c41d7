"""Writes of an organisation's economics choices; a change that moves money marks its days for recompute."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from finops.models import (
    RULE_BUCKETS,
    BucketRule,
    Commitment,
    EconomicsSettings,
    ExchangeRate,
    LearningQuestion,
    Release,
    RollupDay,
)
from ingest.services.days import dirty_days_mark

ALLOCATION_FIELDS = ("shared_cost_key", "api_gap_key", "blend_weights", "group_keys", "electricity_price_amount", "pue",
                     "deferrable_features")  # fmt: skip


@transaction.atomic
def economics_settings_update(*, org, thresholds: dict, **fields) -> EconomicsSettings:
    """Save thresholds and settings; when an allocation choice changed, every computed day is recomputed."""
    settings, _ = EconomicsSettings.objects.select_for_update().get_or_create(org=org)
    moved = any(getattr(settings, k) != v for k, v in fields.items() if k in ALLOCATION_FIELDS)
    settings.thresholds = thresholds
    for key, value in fields.items():
        setattr(settings, key, value)
    settings.updated_at = timezone.now()
    settings.save()
    if moved:
        _recompute_everything(org)
    return settings


def release_create(*, org, name: str, released_at) -> Release:
    """Record a release (evaluation spend is judged against it); the same name again updates its time."""
    release, _ = Release.objects.update_or_create(org=org, name=name, defaults={"released_at": released_at})
    return release


@transaction.atomic
def learning_question_record(*, org, run: str, question: str, decision: str = "") -> LearningQuestion:
    """The question a training or research run answers; it makes the run approved learning from now on."""
    record, _ = LearningQuestion.objects.update_or_create(
        org=org, run=run, defaults={"question": question, "decision": decision}
    )
    _recompute_everything(org)
    return record


def _recompute_everything(org) -> None:
    dirty_days_mark(org=org, days=RollupDay.objects.for_org(org).values_list("day", flat=True))


@transaction.atomic
def bucket_rule_create(*, org, field: str, pattern: str, bucket: str) -> BucketRule:
    """Add a rule after the existing ones; every computed day is recomputed with it."""
    if bucket not in RULE_BUCKETS:
        raise ValidationError({"bucket": f"A rule places work in one of {', '.join(RULE_BUCKETS)}."})
    last = BucketRule.objects.for_org(org).order_by("-position").values_list("position", flat=True).first()
    rule = BucketRule.objects.create(org=org, field=field, pattern=pattern.strip(), bucket=bucket,
                                     position=(last or 0) + 1)  # fmt: skip
    _recompute_everything(org)
    return rule


@transaction.atomic
def bucket_rule_delete(*, org, rule: BucketRule) -> None:
    """Remove a rule; every computed day is recomputed without it."""
    rule.delete()
    _recompute_everything(org)


def commitment_create(*, org, **fields) -> Commitment:
    """Record a commitment; the Founder Table's provider-commitment row measures it from now on."""
    return Commitment.objects.create(org=org, **fields)


def commitment_delete(*, org, commitment: Commitment) -> None:
    """Forget a commitment of the organisation."""
    Commitment.objects.for_org(org).filter(pk=commitment.pk).delete()


@transaction.atomic
def exchange_rates_set(*, org, rates: dict, day) -> None:
    """Rates that differ from those in force become effective on `day`; every computed day is recomputed."""
    changed = False
    for currency, rate in rates.items():
        current = ExchangeRate.objects.for_org(org).filter(currency=currency, effective_from__lte=day).last()
        if current is None or current.rate != rate:
            ExchangeRate.objects.update_or_create(org=org, currency=currency, effective_from=day,
                                                  defaults={"rate": rate})  # fmt: skip
            changed = True
    if changed:
        _recompute_everything(org)
