"""Content-Security-Policy: every response carries the policy, and no template needs what the policy refuses."""

import re
from pathlib import Path

from django.conf import settings
from django.test import SimpleTestCase

from tests.base import BaseTestCase

TEMPLATES = Path(settings.BASE_DIR) / "templates"
POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "frame-ancestors": "'none'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
}


def policy_of(response) -> dict:
    directives = (part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    return {name: value for name, value in directives}


class PolicyTests(BaseTestCase):
    def test_it_sends_the_policy_with_pages(self):
        self.assertEqual(policy_of(self.client.get("/accounts/login/")), POLICY)
        self.client.login(username=self.alice.email, password=self.password)
        self.assertEqual(policy_of(self.client.get(f"/o/{self.org.code}/")), POLICY)

    def test_it_sends_the_policy_with_the_api(self):
        self.assertEqual(policy_of(self.client.get("/healthz")), POLICY)


class TemplateTests(SimpleTestCase):
    """script-src 'self' runs no inline code: a page's script is a static file, its data is json_script."""

    def test_it_has_no_inline_script(self):
        for path in TEMPLATES.rglob("*.html"):
            for tag in re.findall(r"<script\b[^>]*>", path.read_text()):
                self.assertRegex(tag, r"\bsrc=", f"{path.relative_to(TEMPLATES)}: {tag}")

    def test_it_has_no_event_handler_attribute_or_javascript_url(self):
        for path in TEMPLATES.rglob("*.html"):
            text = path.read_text()
            self.assertNotRegex(text, r"<[^>]+\son[a-z]+\s*=", path.relative_to(TEMPLATES))
            self.assertNotIn("javascript:", text, path.relative_to(TEMPLATES))
