"""A response showing a new API key or agent token's secret says `Cache-Control: no-store`: no copy is kept."""

from django.urls import reverse

from accounts.services import api_key_create
from tests.base import BaseTestCase


class SecretPagesTests(BaseTestCase):
    def setUp(self):
        self.client.login(username=self.alice.email, password=self.password)

    def assert_no_store(self, response, secret_prefix):
        self.assertEqual(response.status_code, 201)
        self.assertIn(secret_prefix, response.content.decode())
        self.assertIn("no-store", response["Cache-Control"])
        self.assertIn("private", response["Cache-Control"])

    def test_it_keeps_no_copy_of_a_new_api_key_page(self):
        url = reverse("accounts-api-keys", args=[self.org.code])
        self.assert_no_store(self.client.post(url, {"name": "export", "scope": "read"}), "fk_")

    def test_it_keeps_no_copy_of_a_new_agent_token_page(self):
        url = reverse("accounts-agent-tokens", args=[self.org.code])
        self.assert_no_store(self.client.post(url, {"host_name": "gpu-box-1"}), "fa_")

    def test_it_keeps_no_copy_of_a_new_agent_token_from_the_api(self):
        _, raw = api_key_create(org=self.org, name="ci", scope="write", created_by=self.alice)
        response = self.client.post(
            "/api/v1/agent-tokens/", {"host": "gpu-box-1"}, HTTP_AUTHORIZATION=f"Bearer {raw}",
            content_type="application/json",
        )  # fmt: skip
        self.assert_no_store(response, "fa_")

    def test_it_leaves_the_listing_without_a_secret_as_before(self):
        response = self.client.get(reverse("accounts-api-keys", args=[self.org.code]))
        self.assertEqual(response.status_code, 200)
        self.assertNotIn("no-store", response.get("Cache-Control", ""))
