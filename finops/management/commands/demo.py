import json

from django.core.management.base import BaseCommand

from finops.services.demo import DEMO_TEAM, demo_org_recreate


class Command(BaseCommand):
    help = 'Create (or recreate) the demo organisation "Demo AI" and print how to log in.'

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print {org, login, password, api_key} as JSON")

    def handle(self, *args, **options):
        demo = demo_org_recreate()
        if options["json"]:
            self.stdout.write(json.dumps(demo))
            return
        team = ", ".join(f"{email} ({role})" for email, role in DEMO_TEAM)
        self.stdout.write(
            f"Demo AI is ready. Log in as {demo['login']} with password {demo['password']} "
            f"(teammates {team} share it). API key: {demo['api_key']}"
        )
