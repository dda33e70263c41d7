"""The weekly digest: one ISO week of the Founder Table by e-mail to every member who wants it, once per
organisation, user and week.

The figures are the Founder Table page's (`founder_table_for`: its rows, totals and metrics), shown with the same
helpers, so the e-mail and the page never disagree.
"""

import logging
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Organization
from accounts.services import digest_unsubscribe_url
from finops.founder_table import metric_display, row_impact
from finops.models import Digest
from finops.money import format_money
from finops.selectors.founder_week import founder_table_for
from finops.services.rollups import rollups_refresh_when_embedded
from ingest.periods import PeriodError, period_resolve, week_label

logger = logging.getLogger(__name__)

WEEK = timedelta(days=7)
SEND_FROM_HOUR = 8  # local time of the organisation, on Mondays
OFFENDERS_SHOWN = 3


@dataclass
class DigestResult:
    """What one `digests_send` did, by recipient address."""

    org: Organization
    week: date
    sent: list = field(default_factory=list)
    already_sent: list = field(default_factory=list)
    failed: list = field(default_factory=list)

    def summary(self) -> str:
        failed = f", failed {len(self.failed)}" if self.failed else ""
        return (f"{self.org.name} ({self.org.code}), week {week_label(self.week)}: sent {len(self.sent)}, "
                f"already sent {len(self.already_sent)}{failed}")  # fmt: skip


def digest_week(*, org: Organization, week: str | None = None, now: datetime) -> date:
    """The Monday of the week a digest of `org` reports: `week` ('YYYY-Www'), else the last complete ISO week in
    the organisation's time zone (the period resolver's default). Raises PeriodError for a malformed week, or one
    that has not ended in that time zone and in UTC (the figures are UTC days)."""
    period = period_resolve({"week": week or ""}, tz=org.timezone, now=now)
    if period.partial or period.end > now.astimezone(UTC).date():
        raise PeriodError(f"Week {period.label} has not ended yet ({org.timezone} and UTC); a digest reports a "
                          "whole week.")  # fmt: skip
    return period.start


def biggest_leak(stop_signs: list[dict]) -> dict | None:
    """The single biggest leak: of the rows with a stop sign, the one with the largest `row_impact` (the first
    in the table's order on a tie); None when no row fires. Its founder move is the one suggested fix."""
    return max(stop_signs, key=lambda row: row["impact"], default=None)


def digest_content(*, org: Organization, week: date) -> dict:
    """The digest of the ISO week starting `week` (a Monday): totals, the stop signs with their founder moves and
    top offenders, the twelve metrics against the week before, the biggest leak and absolute links."""
    if week.weekday() != 0:
        raise ValueError(f"a digest week starts on a Monday, not {week:%A}")
    rollups_refresh_when_embedded(org=org)
    end = week + WEEK
    table = founder_table_for(org=org, start=week, end=end)
    rows, totals = table.rows, table.totals
    label = week_label(week)
    table_url = f"{settings.SITE_URL}{reverse('finops-founder-table', kwargs={'org_code': org.code})}?week={label}"
    stop_signs = []
    for row in rows:
        if not row["stop_sign"]:
            continue
        impact = row_impact(row)
        offenders = [{**o, "shown_amount": format_money(o["amount"], org.currency)}
                     for o in row["offenders"][:OFFENDERS_SHOWN]]  # fmt: skip
        stop_signs.append(
            {
                "key": row["key"],
                "title": row["title"],
                "founder_move": row["founder_move"],
                "fires_when": row["fires_when"],
                "offenders": offenders,
                "more": max(len(row["offenders"]) - OFFENDERS_SHOWN, 0),
                "impact": impact,
                "shown_impact": format_money(impact, org.currency),
                "url": f"{table_url}#row-{row['key']}",
            }
        )
    return {
        "org": org,
        "week": week,
        "week_label": label,
        "last_day": end - timedelta(days=1),
        "currency": org.currency,
        "totals": [
            ("Billed", format_money(totals["billed_total"], org.currency)),
            ("Allocated to work", format_money(totals["allocated"], org.currency)),
            ("Idle", format_money(totals["idle"], org.currency)),
            ("Unmeasured GPU time", format_money(totals["unmeasured"], org.currency)),
            ("Unattributed", format_money(totals["unattributed"], org.currency)),
        ],
        "has_costs": bool(totals["billed_total"]),
        "stop_signs": stop_signs,
        "ok_count": table.ok_count,
        "no_data_count": table.no_data_count,
        "leak": biggest_leak(stop_signs),
        "metrics": [metric_display(m, org.currency) for m in table.metrics],
        "founder_table_url": table_url,
        "sources_url": settings.SITE_URL + reverse("ingest-sources", kwargs={"org_code": org.code}),
    }


def digest_subject(content: dict) -> str:
    """The e-mail's subject: the org, the week, how many stop signs and the biggest leak."""
    count = len(content["stop_signs"])
    subject = f"{content['org'].name}, week {content['week_label']}: "
    subject += f"{count} stop sign{'' if count == 1 else 's'}" if count else "no stop signs"
    leak = content["leak"]
    if leak is not None and leak["impact"]:
        subject += f"; biggest leak: {leak['title']}, {leak['shown_impact']}"
    return subject


def digest_message(*, content: dict, membership: Membership) -> EmailMultiAlternatives:
    """The multipart (text and HTML) digest e-mail for one member, with that member's unsubscribe link."""
    unsubscribe = digest_unsubscribe_url(membership)
    context = {
        **content,
        "recipient": membership.user.email,
        "unsubscribe_url": unsubscribe,
        "settings_url": settings.SITE_URL + reverse("accounts-notifications", kwargs={"org_code": content["org"].code}),
    }
    message = EmailMultiAlternatives(
        subject=digest_subject(content),
        body=render_to_string("finops/email/digest.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[membership.user.email],
        headers={"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )
    message.attach_alternative(render_to_string("finops/email/digest.html", context), "text/html")
    return message


def digests_send(*, org: Organization, week: date) -> DigestResult:
    """Send the week's digest to each member of `org` who opted in and has not had it yet; what was sent.

    Each (org, user, week) Digest row is claimed (`sent_at` set where it was empty) before its e-mail goes out,
    so two runs at once still send it once; a send that fails gives the claim back for the next run to retry."""
    result = DigestResult(org=org, week=week)
    members = (
        Membership.objects.for_org(org)
        .filter(weekly_digest=True, user__is_active=True)
        .select_related("user")
        .order_by("user__email")
    )
    content = None
    for membership in members:
        user = membership.user
        digest, _ = Digest.objects.for_org(org).get_or_create(org=org, user=user, week=week)
        if digest.sent_at is not None:
            result.already_sent.append(user.email)
            continue
        content = content or digest_content(org=org, week=week)  # only when someone is still due it
        message = digest_message(content=content, membership=membership)
        claimed_at = timezone.now()
        if not Digest.objects.for_org(org).filter(id=digest.id, sent_at=None).update(sent_at=claimed_at):
            result.already_sent.append(user.email)  # another run claimed it since
            continue
        try:
            message.send()
        except Exception:
            Digest.objects.for_org(org).filter(id=digest.id, sent_at=claimed_at).update(sent_at=None)
            logger.exception("weekly digest of %s for %s (week %s) failed", org.code, user.email, week_label(week))
            result.failed.append(user.email)
        else:
            result.sent.append(user.email)
    return result


def digest_orgs_due(*, now: datetime) -> list[tuple[int, date]]:
    """(org id, Monday of the week that just ended) of each organisation with a member who wants the digest
    where it is Monday, 08:00 or later, in the organisation's time zone at `now`.

    The week reported is in UTC days like every page, so east of UTC it waits until that week has ended in UTC
    too (Tokyo's 08:00 is still Sunday in UTC); every time zone's Monday has such hours."""
    due = []
    orgs = Organization.objects.filter(memberships__weekly_digest=True).distinct().order_by("pk")
    for org_id, zone in orgs.values_list("pk", "timezone"):
        try:
            local = now.astimezone(zoneinfo.ZoneInfo(zone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            local = now.astimezone(UTC)
        monday = local.date()
        if local.weekday() == 0 and local.hour >= SEND_FROM_HOUR and now >= datetime.combine(monday, time(0), UTC):
            due.append((org_id, period_resolve({}, tz=zone, now=now).start))  # the week that just ended there
    return due
