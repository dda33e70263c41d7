import json

from django.core.management.base import BaseCommand

from accounts.management import command_org
from accounts.services import agent_token_create


class Command(BaseCommand):
    help = "Create a token for one GPU host's agent."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organisation code")
        parser.add_argument("--host", required=True, help="host name, e.g. gpu-a100-01")
        parser.add_argument("--json", action="store_true", help="print {host, token} as JSON")

    def handle(self, *args, org, host, **options):
        organization = command_org(org)
        token, raw = agent_token_create(org=organization, host_name=host, created_by=None)
        if options["json"]:
            self.stdout.write(json.dumps({"host": token.host_name, "token": raw}))
        else:
            self.stdout.write(f"Agent token for {token.host_name} (shown once): {raw}")
