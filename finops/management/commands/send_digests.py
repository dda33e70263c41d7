from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import Organization
from accounts.selectors import organization_for_code
from finops.services.digests import WEEK, digests_send, last_complete_week
from ingest.periods import PeriodError, parse_week, week_label


class Command(BaseCommand):
    help = (
        "Send the weekly digest now to every member who opted in; a digest goes out once per organisation, "
        "user and week, so running it twice sends nothing new."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", help="organisation code (UUID); every organisation when absent")
        parser.add_argument("--week", help="ISO week YYYY-Www; the last complete one (UTC) when absent")

    def handle(self, *args, org=None, week=None, **options):
        now = timezone.now()
        if week:
            try:
                monday = parse_week(week)
            except PeriodError as exc:
                raise CommandError(str(exc)) from exc
            if monday + WEEK > now.date():
                raise CommandError(f"Week {week_label(monday)} has not ended yet (UTC); a digest reports a whole week.")
        else:
            monday = last_complete_week(now=now)
        if org:
            found = organization_for_code(code=org)
            if found is None:
                raise CommandError(f"No organisation has the code {org}.")
            orgs = [found]
        else:
            orgs = Organization.objects.order_by("name", "pk")
        failed = 0
        for each in orgs:
            result = digests_send(org=each, week=monday)
            failed += len(result.failed)
            self.stdout.write(result.summary())
        if failed:
            raise CommandError(f"{failed} digest(s) could not be sent; run the command again to retry them.")
