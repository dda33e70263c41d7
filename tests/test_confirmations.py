"""Every form that deletes, revokes or removes something asks first: `data-confirm` (handled by static/js/app.js), or
it stands on a page of its own that is the question (an upload's delete page, which lists what goes)."""

import re
from html.parser import HTMLParser

from accounts.models import Organization
from accounts.services import agent_token_create, invitation_create
from finops.services.settings import bucket_rule_create
from ingest.services.connectors import connector_create
from tests.base import BaseTestCase
from tests.demo import demo_org
from tests.org_pages import org_page_urls

DESTRUCTIVE = re.compile(r"/(delete|revoke|remove)/$")


class Forms(HTMLParser):
    def __init__(self, page_url):
        super().__init__()
        self.page_url = page_url
        self.forms = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "").lower() == "post":
            self.forms.append((attrs.get("action") or self.page_url, attrs.get("data-confirm")))


class ConfirmationTests(BaseTestCase):
    def test_it_asks_before_every_destructive_form(self):
        demo = demo_org()
        org = Organization.objects.get(code=demo["org"])
        owner = org.memberships.get(role="owner").user
        bucket_rule_create(org=org, field="purpose", pattern="eval*", bucket="evaluation")
        invitation_create(org=org, email="dan@example.org", role="member", invited_by=owner)
        agent_token_create(org=org, host_name="spare-box", created_by=owner)
        connector_create(org=org, kind="s3_compatible", name="R2 invoices", values={
            "endpoint_url": "https://r2.example.org", "bucket": "invoices", "access_key_id": "key",
            "secret_access_key": "secret"})  # fmt: skip
        self.client.force_login(owner)
        destructive = set()
        for url in org_page_urls(org):
            response = self.client.get(url)
            if response.status_code == 405:
                continue
            self.assertEqual(response.status_code, 200, url)
            parser = Forms(url)
            parser.feed(response.content.decode())
            for action, question in parser.forms:
                if DESTRUCTIVE.search(action):
                    destructive.add(re.sub(r"[0-9a-f-]{36}", "<code>", action))
                    asks = question or action == url  # the page itself is the confirmation
                    self.assertTrue(asks, f"{url}: the form posting to {action} does not ask for confirmation")
        kinds = {action.rstrip("/").rsplit("/", 2)[0] for action in destructive}
        for kind in ("rules", "budgets", "commitments", "settings/members", "settings/invitations",
                     "settings/api-keys", "settings/agent-tokens", "sources/uploads", "connectors"):  # fmt: skip
            self.assertIn(f"/o/<code>/{kind}", kinds)
