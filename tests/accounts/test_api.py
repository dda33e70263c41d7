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

    def test_it_lists_a_key_no_person_made_with_a_null_creator_as_the_schema_says(self):
        # Found by the fuzzer (tests/test_fuzz_api.py): create_org's key has no creator, the schema said a string.
        api_key_create(org=self.org, name="from a command", scope="read", created_by=None)
        agent_token_create(org=self.org, host_name="gpu-1", created_by=None)
        keys = {k["name"]: k["created_by"] for k in self.get(self.url, self.read_raw).json()}
        self.assertEqual((keys["from a command"], keys["read"]), (None, "alice@example.org"))
        self.assertEqual([t["created_by"] for t in self.get("/api/v1/agent-tokens/", self.read_raw).json()], [None])
        schemas = self.client.get("/api/schema/", {"format": "json"}).json()["components"]["schemas"]
        for name in ("ApiKeyOutput", "AgentTokenOutput", "AgentTokenCreatedOutput"):
            self.assertTrue(schemas[name]["properties"]["created_by"]["nullable"], name)


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

    def test_it_declares_the_errors_each_operation_gives(self):
        # The fuzzer holds every response to the schema, status codes included (tests/test_fuzz_api.py).
        paths = self.client.get("/api/schema/", {"format": "json"}).json()["paths"]
        for path, operations in paths.items():
            for method, operation in operations.items():
                with self.subTest(f"{method} {path}"):
                    declared = set(operation["responses"])
                    self.assertLessEqual({"401", "404", "429"}, declared)
                    if method != "get":
                        self.assertIn("403", declared)
                    if "requestBody" in operation:
                        self.assertLessEqual({"400", "415"}, declared)
                    if any(p["in"] == "query" for p in operation.get("parameters", [])):
                        self.assertIn("400", declared)
        budgets = paths["/api/v1/budgets/"]["post"]["responses"]
        self.assertEqual(set(budgets), {"200", "201", "400", "401", "403", "404", "415", "429"})
        detail = {"$ref": "#/components/schemas/ErrorOutput"}
        self.assertEqual(budgets["401"]["content"]["application/json"]["schema"], detail)

    def test_it_declares_an_uploaded_file_as_bytes(self):
        # It said a URI (what a FileField gives out), so generated clients sent a string instead of the file.
        schemas = self.client.get("/api/schema/", {"format": "json"}).json()["components"]["schemas"]
        self.assertEqual(schemas["UploadInput"]["properties"]["file"], {"type": "string", "format": "binary"})

    def test_the_api_answers_a_path_it_does_not_route_in_json(self):
        # A malformed code never reaches a view: Django's 404 page was HTML where the schema says JSON.
        response = self.get("/api/v1/budgets/not-a-uuid/", self.read_raw)
        self.assertEqual((response.status_code, response.json()), (404, {"detail": "Not found."}))
        self.assertEqual(self.get("/api/v9/", self.read_raw).status_code, 404)
        page = self.client.get("/o/not-a-uuid/")
        self.assertEqual(page.status_code, 404)
        self.assertIn("text/html", page["Content-Type"])

    def test_a_request_django_refuses_itself_is_a_json_400_under_the_api(self):
        # Found by the fuzzer: 1,001 form fields (DATA_UPLOAD_MAX_NUMBER_FIELDS) were Django's HTML 400 page.
        fields = "&".join(f"event_ids={i}" for i in range(1001))
        response = self.client.post("/api/v1/usage-events/delete/", fields,
                                    content_type="application/x-www-form-urlencoded",
                                    HTTP_AUTHORIZATION=f"Bearer {self.write_raw}")  # fmt: skip
        self.assertEqual(response.status_code, 400)
        self.assertIn("detail", response.json())

    def test_it_serves_an_openapi_schema_naming_the_endpoints(self):
        response = self.client.get("/api/schema/", HTTP_ACCEPT="application/json")
        self.assertEqual(response.status_code, 200)
        paths = response.json()["paths"]
        self.assertIn("/api/v1/", paths)
        self.assertIn("/api/v1/agent-tokens/", paths)
