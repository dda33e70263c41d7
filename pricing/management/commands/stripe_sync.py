from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.management import command_org
from pricing.services.stripe_sync import StripeSyncError, stripe_connection_save, stripe_sync_run


class Command(BaseCommand):
    help = "Store the org's Stripe key when given, then pull from Stripe now (honours STRIPE_API_BASE)."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organisation code")
        parser.add_argument("--api-key", default="", help="a restricted read-only key (rk_...), stored encrypted")
        parser.add_argument("--full", action="store_true", help="read everything again, ignoring the cursors")

    def handle(self, *args, org, api_key, full, **options):
        organization = command_org(org)
        try:
            if api_key:
                stripe_connection_save(org=organization, api_key=api_key)
            result = stripe_sync_run(org=organization, full=full)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        except StripeSyncError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{organization.name}: {result.summary()}")
