from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import Organization
from accounts.selectors import organization_for_code
from finops.services.digests import digest_week, digests_send
from ingest.periods import PeriodError


class Command(BaseCommand):
    help = (
        "Send the weekly digest now to every member who opted in; a digest goes out once per organisation, "
        "user and week, so running it twice sends nothing new."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", help="organisation code (UUID); every organisation when absent")
        parser.add_argument(
            "--week", help="ISO week YYYY-Www; the last complete one in each organisation's time zone when absent"
        )

    def handle(self, *args, org=None, week=None, **options):
        now = timezone.now()
        if org:
            found = organization_for_code(code=org)
            if found is None:
                raise CommandError(f"No organisation has the code {org}.")
            orgs = [found]
        else:
            orgs = Organization.objects.order_by("name", "pk")
        weeks = []
        for each in orgs:
            try:
                weeks.append((each, digest_week(org=each, week=week, now=now)))
            except PeriodError as exc:
                if week:
                    raise CommandError(str(exc)) from exc
                self.stdout.write(f"{each.name} ({each.code}): skipped. {exc}")  # east of UTC, before UTC midnight
        failed = 0
        for each, monday in weeks:
            result = digests_send(org=each, week=monday)
            failed += len(result.failed)
            self.stdout.write(result.summary())
        if failed:
            raise CommandError(f"{failed} digest(s) could not be sent; run the command again to retry them.")
