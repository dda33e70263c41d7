"""The REST API's door: bearer keys, scopes, revocation, and tenants kept apart."""

import hashlib

from django.urls import reverse
from django.utils import timezone

from accounts.models import AgentToken, ApiKey
from accounts.services import agent_token_create, api_key_create, token_revoke
from tests.base import BaseTestCase


class ApiTestCase(BaseTestCase):
    def setUp(self):
        self.read_key, self.read_raw = api_key_create(org=self.org, name="read", scope="read", created_by=self.alice)
        self.write_key, self.write_raw = api_key_create(
            org=self.org, name="write", scope="write", created_by=self.alice
        )
        self.charlie_key, self.charlie_raw = api_key_create(
            org=self.charlies_org, name="c", scope="write", created_by=self.charlie
        )

    def get(self, url, raw, **extra):
        return self.client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw}", **extra)


class ApiKeyStorageTests(ApiTestCase):
    def test_it_stores_only_a_hash_and_a_prefix(self):
        stored = ApiKey.objects.get(pk=self.read_key.pk)
        self.assertEqual(stored.token_hash, hashlib.sha256(self.read_raw.encode()).hexdigest())
        self.assertEqual(stored.prefix, self.read_raw[: len(stored.prefix)])
        self.assertLess(len(stored.prefix), 16)
        for field in ApiKey._meta.concrete_fields:
            self.assertNotEqual(str(getattr(stored, field.attname)), self.read_raw)

    def test_it_makes_every_key_different(self):
        _, again = api_key_create(org=self.org, name="read", scope="read", created_by=self.alice)
        self.assertNotEqual(again, self.read_raw)


class WhoAmIApiTests(ApiTestCase):
    url = "/api/v1/"

    def test_it_returns_the_keys_org(self):
        response = self.get(self.url, self.read_raw)
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertEqual(body["org"]["code"], str(self.org.code))
        self.assertEqual(body["org"]["name"], "Alice AI")
        self.assertEqual(
            body["auth"], {"kind": "api_key", "scope": "read", "prefix": self.read_key.prefix, "name": "read"}
        )

    def test_it_rejects_missing_malformed_unknown_and_revoked_keys(self):
        self.assertEqual(self.client.get(self.url).status_code, 401)
        self.assertEqual(self.client.get(self.url, HTTP_AUTHORIZATION="Bearer").status_code, 401)
        self.assertEqual(self.get(self.url, "fk_not-a-real-key").status_code, 401)
        self.assertEqual(self.get(self.url, "something-else").status_code, 401)
        token_revoke(org=self.org, token=self.read_key)
        response = self.get(self.url, self.read_raw)
        self.assertEqual(response.status_code, 401)
        self.assertIn("WWW-Authenticate", response)

    def test_it_hides_other_orgs(self):
        response = self.get(self.url + f"?org={self.org.code}", self.charlie_raw)
        self.assertEqual(response.status_code, 404)
        self.assertNotIn("Alice", response.content.decode())

    def test_it_records_last_use(self):
        self.assertIsNone(self.read_key.last_used_at)
        self.get(self.url, self.read_raw)
        self.read_key.refresh_from_db()
        self.assertAlmostEqual(self.read_key.last_used_at.timestamp(), timezone.now().timestamp(), delta=5)

    def test_it_refuses_an_agent_token(self):
        _, raw = agent_token_create(org=self.org, host_name="gpu-1", created_by=self.alice)
        self.assertEqual(self.get(self.url, raw).status_code, 401)

    def test_it_serves_session_users_their_org(self):
        self.client.force_login(self.bob)
        response = self.client.get(self.url + f"?org={self.org.code}")
        self.assertEqual(response.json()["auth"]["role"], "viewer")

    def test_it_hides_other_orgs_from_session_users(self):
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(self.url + f"?org={self.org.code}").status_code, 404)
        self.assertEqual(self.client.get(self.url + "?org=not-a-uuid").status_code, 404)


class ApiKeyListApiTests(ApiTestCase):
    url = "/api/v1/api-keys/"

    def test_it_lists_the_orgs_keys_without_secrets(self):
        body = self.get(self.url, self.read_raw).json()
        self.assertEqual({k["name"] for k in body}, {"read", "write"})
        self.assertNotIn(self.write_raw, str(body))
        self.assertNotIn("token_hash", str(body))

    def test_it_hides_other_orgs(self):
        body = self.get(self.url, self.charlie_raw).json()
        self.assertEqual([k["name"] for k in body], ["c"])


class ApiKeyRevokeApiTests(ApiTestCase):
    def url(self, key):
        return reverse("accounts-api-key-revoke-api", kwargs={"code": key.code})

    def test_it_revokes_a_key(self):
        response = self.client.delete(self.url(self.read_key), HTTP_AUTHORIZATION=f"Bearer {self.write_raw}")
        self.assertEqual(response.status_code, 204)
        self.assertEqual(self.get("/api/v1/", self.read_raw).status_code, 401)

    def test_it_requires_write(self):
        response = self.client.delete(self.url(self.write_key), HTTP_AUTHORIZATION=f"Bearer {self.read_raw}")
        self.assertEqual(response.status_code, 403)
        self.client.force_login(self.bob)
        response = self.client.delete(self.url(self.write_key) + f"?org={self.org.code}")
        self.assertEqual(response.status_code, 403)
        self.write_key.refresh_from_db()
        self.assertIsNone(self.write_key.revoked_at)

    def test_it_hides_other_orgs(self):
        response = self.client.delete(self.url(self.read_key), HTTP_AUTHORIZATION=f"Bearer {self.charlie_raw}")
        self.assertEqual(response.status_code, 404)
        self.read_key.refresh_from_db()
        self.assertIsNone(self.read_key.revoked_at)


class AgentTokenApiTests(ApiTestCase):
    url = "/api/v1/agent-tokens/"

    def test_it_creates_a_token_shown_once(self):
        response = self.client.post(
            self.url,
            {"host": "gpu-h100-01"},
            HTTP_AUTHORIZATION=f"Bearer {self.write_raw}",
            content_type="application/json",
        )
        self.assertEqual(response.status_code, 201)
        body = response.json()
        self.assertTrue(body["token"].startswith("fa_"))
        token = AgentToken.objects.get(code=body["code"])
        self.assertEqual((token.org, token.host_name), (self.org, "gpu-h100-01"))
        self.assertNotIn("token", self.get(self.url, self.read_raw).json()[0])

    def test_it_validates_the_host(self):
        response = self.client.post(
            self.url, {}, HTTP_AUTHORIZATION=f"Bearer {self.write_raw}", content_type="application/json"
        )
        self.assertEqual(response.status_code, 400)
        self.assertIn("host", response.json())

    def test_it_requires_write(self):
        response = self.client.post(
            self.url, {"host": "x"}, HTTP_AUTHORIZATION=f"Bearer {self.read_raw}", content_type="application/json"
        )
        self.assertEqual(response.status_code, 403)
        self.assertFalse(AgentToken.objects.exists())

    def test_it_hides_other_orgs(self):
        token, _ = agent_token_create(org=self.org, host_name="gpu-1", created_by=self.alice)
        self.assertEqual(self.get(self.url, self.charlie_raw).json(), [])
        url = reverse("accounts-agent-token-revoke-api", kwargs={"code": token.code})
        response = self.client.delete(url, HTTP_AUTHORIZATION=f"Bearer {self.charlie_raw}")
        self.assertEqual(response.status_code, 404)


class SchemaTests(ApiTestCase):
    def test_it_generates_a_valid_schema_without_warnings(self):
        import tempfile

        from django.core.management import call_command

        with tempfile.NamedTemporaryFile(suffix=".yml") as handle:
            call_command("spectacular", "--validate", "--fail-on-warn", "--file", handle.name)
            self.assertIn(b"/api/v1/uploads/", handle.read())

    def test_it_serves_an_openapi_schema_naming_the_endpoints(self):
        response = self.client.get("/api/schema/", HTTP_ACCEPT="application/json")
        self.assertEqual(response.status_code, 200)
        paths = response.json()["paths"]
        self.assertIn("/api/v1/", paths)
        self.assertIn("/api/v1/agent-tokens/", paths)
