from datetime import UTC, datetime

from ingest.models import Upload, UsageEvent

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def usage_event(
    org, event_id, *, provider="openai", model="gpt-4o", at=NOON, input_tokens=1000, output_tokens=200, **extra
):
    """One call in the usage ledger, unpriced unless told otherwise."""
    extra.setdefault("cost_source", UsageEvent.CostSource.UNPRICED)
    return UsageEvent.objects.create(
        org=org,
        event_id=event_id,
        occurred_at=at,
        provider=provider,
        model=model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        **extra,
    )


def usage_upload(org, name="usage.csv"):
    return Upload.objects.create(
        org=org, kind=Upload.Kind.USAGE, file=f"uploads/{name}", original_name=name, sha256="0" * 64
    )
