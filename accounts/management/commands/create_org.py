import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.services import org_bootstrap


class Command(BaseCommand):
    help = "Create an organisation, its owner (created if missing) and a read-write API key."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--owner", required=True, help="owner's e-mail address")
        parser.add_argument("--password", help="password for the owner when the user is new")
        parser.add_argument("--json", action="store_true", help="print {org, owner, api_key} as JSON")

    def handle(self, *args, name, owner, password, **options):
        try:
            org, user, api_key = org_bootstrap(name=name, owner_email=owner, password=password)
        except (ValidationError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps({"org": str(org.code), "owner": user.email, "api_key": api_key}))
        else:
            self.stdout.write(f"Created {org.name} ({org.code}) owned by {user.email}; API key (shown once): {api_key}")
