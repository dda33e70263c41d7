"""Every org-scoped page: the owner sees it, another tenant gets 404, a viewer cannot write."""

from datetime import date
from decimal import Decimal

from django.urls import reverse

from accounts.models import AgentToken, ApiKey, Invitation, Membership
from accounts.services import agent_token_create, api_key_create, invitation_create
from finops.models import CustomerRollup
from tests.base import BaseTestCase


class OrgPageTestsMixin:
    url_name: str
    heading: str

    def url(self, org=None):
        return reverse(self.url_name, kwargs={"org_code": (org or self.org).code})

    def test_it_shows_the_page_to_a_member(self):
        self.client.force_login(self.bob)
        response = self.client.get(self.url())
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, self.heading)
        self.assertContains(response, "Alice AI")

    def test_it_hides_other_orgs(self):
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(self.url()).status_code, 404)
        self.assertEqual(self.client.post(self.url(), {}).status_code, 404)

    def test_it_sends_anonymous_visitors_to_login(self):
        response = self.client.get(self.url())
        self.assertRedirects(response, reverse("accounts-login") + "?next=" + self.url(), fetch_redirect_response=False)

    def test_it_returns_404_for_an_unknown_org(self):
        self.client.force_login(self.alice)
        url = reverse(self.url_name, kwargs={"org_code": "00000000-0000-0000-0000-000000000000"})
        self.assertEqual(self.client.get(url).status_code, 404)


class FounderTablePageTests(OrgPageTestsMixin, BaseTestCase):
    url_name = "finops-founder-table"
    heading = "Founder Table"

    def test_it_lists_the_ten_rows(self):
        self.client.force_login(self.alice)
        response = self.client.get(self.url())
        for key in ("training_run", "idle_gpu", "provider_commitment"):
            self.assertContains(response, f'id="row-{key}"')
        self.assertEqual(response.content.decode().count('<tr id="row-'), 10)


class CostsPageTests(OrgPageTestsMixin, BaseTestCase):
    url_name = "finops-costs"
    heading = "No bill lines yet"


class ExplorePageTests(OrgPageTestsMixin, BaseTestCase):
    url_name = "finops-explore"
    heading = "No cost in this period for these filters"


class CustomersPageTests(OrgPageTestsMixin, BaseTestCase):
    url_name = "finops-customers"
    heading = "No customers yet"


class CustomerPageTests(OrgPageTestsMixin, BaseTestCase):
    url_name = "finops-customer"
    heading = "acme/eu"  # a customer id with a slash: the URL keeps it

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        CustomerRollup.objects.create(org=cls.org, day=date(2026, 11, 2), kind="allocated", currency="USD",
                                      cost_amount=Decimal(1), customer="acme/eu")  # fmt: skip

    def url(self, org=None):
        return reverse(self.url_name, kwargs={"org_code": (org or self.org).code, "customer": "acme/eu"})

    def test_it_returns_404_for_an_unknown_org(self):
        self.client.force_login(self.alice)
        url = reverse(self.url_name, kwargs={"org_code": "00000000-0000-0000-0000-000000000000", "customer": "a"})
        self.assertEqual(self.client.get(url).status_code, 404)

    def test_it_returns_404_for_an_unknown_customer(self):
        self.client.force_login(self.alice)
        url = reverse(self.url_name, kwargs={"org_code": self.org.code, "customer": "acme"})
        self.assertEqual(self.client.get(url).status_code, 404)


class UsagePageTests(OrgPageTestsMixin, BaseTestCase):
    url_name = "finops-usage"
    heading = "No model calls in this period"


class PlansPageTests(OrgPageTestsMixin, BaseTestCase):
    url_name = "finops-plans"
    heading = "No plans yet"


class GpusPageTests(OrgPageTestsMixin, BaseTestCase):
    url_name = "finops-gpus"
    heading = "No GPU hosts in this period"


class OnboardingPageTests(OrgPageTestsMixin, BaseTestCase):
    url_name = "finops-onboarding"
    heading = "Find idle burn"


class SourcesPageTests(OrgPageTestsMixin, BaseTestCase):
    url_name = "ingest-sources"
    heading = "Cloud bills"

    def test_it_counts_only_this_orgs_active_host_tokens(self):
        agent_token_create(org=self.org, host_name="gpu-1", created_by=self.alice)
        agent_token_create(org=self.charlies_org, host_name="gpu-x", created_by=self.charlie)
        self.client.force_login(self.alice)
        self.assertContains(self.client.get(self.url()), "1 host token")


class OrgSettingsPageTests(OrgPageTestsMixin, BaseTestCase):
    url_name = "accounts-org-settings"
    heading = "Organisation code"

    def test_it_lets_the_owner_change_settings(self):
        self.client.force_login(self.alice)
        response = self.client.post(
            self.url(), {"name": "Alice AI Inc", "currency": "eur", "timezone": "Europe/Berlin"}
        )
        self.assertRedirects(response, self.url())
        self.org.refresh_from_db()
        self.assertEqual(
            (self.org.name, self.org.currency, self.org.timezone), ("Alice AI Inc", "EUR", "Europe/Berlin")
        )

    def test_it_rejects_an_unknown_timezone(self):
        self.client.force_login(self.alice)
        response = self.client.post(self.url(), {"name": "X", "currency": "USD", "timezone": "Mars/Olympus"})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Select a valid choice")

    def test_it_requires_write(self):
        self.client.force_login(self.bob)
        response = self.client.post(self.url(), {"name": "Bob's", "currency": "USD", "timezone": "UTC"})
        self.assertEqual(response.status_code, 403)
        self.org.refresh_from_db()
        self.assertEqual(self.org.name, "Alice AI")


class MembersPageTests(OrgPageTestsMixin, BaseTestCase):
    url_name = "accounts-members"
    heading = "bob@example.org"

    def test_it_does_not_list_other_orgs_members(self):
        self.client.force_login(self.alice)
        self.assertNotContains(self.client.get(self.url()), "charlie@example.org")

    def test_it_requires_write(self):
        self.client.force_login(self.bob)
        response = self.client.post(self.url(), {"email": "eve@example.org", "role": "owner"})
        self.assertEqual(response.status_code, 403)
        self.assertFalse(Invitation.objects.filter(email="eve@example.org").exists())

    def test_it_changes_a_role_and_removes_a_member(self):
        self.client.force_login(self.alice)
        bob = Membership.objects.get(org=self.org, user=self.bob)
        url = reverse("accounts-member-role", kwargs={"org_code": self.org.code, "code": bob.code})
        self.client.post(url, {"role": "member"})
        bob.refresh_from_db()
        self.assertEqual(bob.role, "member")
        url = reverse("accounts-member-remove", kwargs={"org_code": self.org.code, "code": bob.code})
        self.client.post(url)
        self.assertFalse(Membership.objects.filter(pk=bob.pk).exists())

    def test_it_keeps_the_last_owner(self):
        self.client.force_login(self.alice)
        alice = Membership.objects.get(org=self.org, user=self.alice)
        url = reverse("accounts-member-role", kwargs={"org_code": self.org.code, "code": alice.code})
        response = self.client.post(url, {"role": "viewer"}, follow=True)
        self.assertContains(response, "at least one owner")
        alice.refresh_from_db()
        self.assertEqual(alice.role, "owner")

    def test_it_hides_other_orgs_members_from_role_changes(self):
        self.client.force_login(self.charlie)
        bob = Membership.objects.get(org=self.org, user=self.bob)
        for name in ("accounts-member-role", "accounts-member-remove"):
            url = reverse(name, kwargs={"org_code": self.org.code, "code": bob.code})
            self.assertEqual(self.client.post(url, {"role": "owner"}).status_code, 404)
        # Charlie's own org in the URL does not reach Alice's member either.
        url = reverse("accounts-member-role", kwargs={"org_code": self.charlies_org.code, "code": bob.code})
        self.assertEqual(self.client.post(url, {"role": "owner"}).status_code, 404)

    def test_it_requires_an_owner_for_role_changes(self):
        self.client.force_login(self.bob)
        alice = Membership.objects.get(org=self.org, user=self.alice)
        url = reverse("accounts-member-role", kwargs={"org_code": self.org.code, "code": alice.code})
        self.assertEqual(self.client.post(url, {"role": "viewer"}).status_code, 403)

    def test_it_withdraws_an_invitation_only_in_its_org(self):
        invitation, _ = invitation_create(org=self.org, email="dan@example.org", role="member", invited_by=self.alice)
        url = reverse(
            "accounts-invitation-revoke", kwargs={"org_code": self.charlies_org.code, "code": invitation.code}
        )
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.post(url).status_code, 404)
        self.client.force_login(self.bob)
        url = reverse("accounts-invitation-revoke", kwargs={"org_code": self.org.code, "code": invitation.code})
        self.assertEqual(self.client.post(url).status_code, 403)
        self.client.force_login(self.alice)
        self.client.post(url)
        self.assertFalse(Invitation.objects.filter(pk=invitation.pk).exists())


class ApiKeysPageTests(OrgPageTestsMixin, BaseTestCase):
    url_name = "accounts-api-keys"
    heading = "API keys"

    def test_it_creates_a_key_and_shows_it_once(self):
        self.client.force_login(self.alice)
        response = self.client.post(self.url(), {"name": "exporter", "scope": "write"})
        self.assertEqual(response.status_code, 201)
        key = ApiKey.objects.get(org=self.org, name="exporter")
        raw = response.context["created"]["raw"]
        self.assertContains(response, raw, status_code=201)
        self.assertTrue(raw.startswith(key.prefix))
        self.assertNotContains(self.client.get(self.url()), raw)

    def test_it_requires_write(self):
        self.client.force_login(self.bob)
        self.assertEqual(self.client.post(self.url(), {"name": "x", "scope": "read"}).status_code, 403)
        key, _ = api_key_create(org=self.org, name="k", scope="read", created_by=self.alice)
        url = reverse("accounts-api-key-revoke", kwargs={"org_code": self.org.code, "code": key.code})
        self.assertEqual(self.client.post(url).status_code, 403)
        self.assertFalse(ApiKey.objects.filter(revoked_at__isnull=False).exists())

    def test_it_revokes_only_its_own_orgs_keys(self):
        key, _ = api_key_create(org=self.org, name="k", scope="read", created_by=self.alice)
        self.client.force_login(self.charlie)
        url = reverse("accounts-api-key-revoke", kwargs={"org_code": self.charlies_org.code, "code": key.code})
        self.assertEqual(self.client.post(url).status_code, 404)
        self.client.force_login(self.alice)
        url = reverse("accounts-api-key-revoke", kwargs={"org_code": self.org.code, "code": key.code})
        self.client.post(url)
        key.refresh_from_db()
        self.assertIsNotNone(key.revoked_at)


class AgentTokensPageTests(OrgPageTestsMixin, BaseTestCase):
    url_name = "accounts-agent-tokens"
    heading = "Agent tokens"

    def test_it_creates_a_token_with_install_instructions(self):
        self.client.force_login(self.alice)
        response = self.client.post(self.url(), {"host_name": "gpu-a100-01"})
        self.assertEqual(response.status_code, 201)
        raw = response.context["created"]["raw"]
        self.assertContains(response, f"--token {raw}", status_code=201)
        self.assertTrue(AgentToken.objects.filter(org=self.org, host_name="gpu-a100-01").exists())

    def test_it_requires_write(self):
        self.client.force_login(self.bob)
        self.assertEqual(self.client.post(self.url(), {"host_name": "gpu"}).status_code, 403)
        token, _ = agent_token_create(org=self.org, host_name="gpu", created_by=self.alice)
        url = reverse("accounts-agent-token-revoke", kwargs={"org_code": self.org.code, "code": token.code})
        self.assertEqual(self.client.post(url).status_code, 403)

    def test_it_revokes_only_its_own_orgs_tokens(self):
        token, _ = agent_token_create(org=self.org, host_name="gpu", created_by=self.alice)
        self.client.force_login(self.charlie)
        url = reverse("accounts-agent-token-revoke", kwargs={"org_code": self.charlies_org.code, "code": token.code})
        self.assertEqual(self.client.post(url).status_code, 404)
        token.refresh_from_db()
        self.assertIsNone(token.revoked_at)


class HomeTests(BaseTestCase):
    def test_it_opens_the_last_org_or_the_first(self):
        self.client.force_login(self.alice)
        other = self.charlies_org
        other.memberships.create(user=self.alice, role="viewer")
        self.client.get(reverse("finops-gpus", kwargs={"org_code": other.code}))
        self.assertRedirects(
            self.client.get("/"),
            reverse("finops-founder-table", kwargs={"org_code": other.code}),
            fetch_redirect_response=False,
        )

    def test_it_asks_a_user_without_org_to_create_one(self):
        from accounts.services import user_get_or_create

        dan, _ = user_get_or_create(email="dan@example.org", password="x")
        self.client.force_login(dan)
        self.assertRedirects(self.client.get("/"), reverse("accounts-org-create"))

    def test_it_lists_only_the_users_orgs_in_the_switcher(self):
        self.client.force_login(self.alice)
        response = self.client.get(reverse("finops-founder-table", kwargs={"org_code": self.org.code}))
        self.assertNotContains(response, "Charlie Labs")


class ReconciliationPageTests(OrgPageTestsMixin, BaseTestCase):
    url_name = "ingest-reconciliation"
    heading = "Token spend"

    def test_it_shows_the_gap_for_the_month(self):
        from ingest.services.usage import usage_events_ingest

        usage_events_ingest(
            org=self.org,
            events=[
                {"event_id": "a", "timestamp": "2026-10-02T10:00:00Z", "provider": "openai", "model": "gpt-4o",
                 "cost": "12.50"},
                {"event_id": "b", "timestamp": "2026-10-02T11:00:00Z", "provider": "openai", "model": "no-such-model"},
            ],
        )  # fmt: skip
        self.client.force_login(self.alice)
        page = self.client.get(self.url() + "?month=2026-10")
        self.assertContains(page, "October 2026")
        self.assertContains(page, "$12.50")
        self.assertContains(page, "1 call this month has no known price")
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(self.url() + "?month=2026-10").status_code, 404)


class GpusWithHostsPageTests(BaseTestCase):
    def test_it_lists_the_orgs_hosts_only(self):
        from datetime import timedelta

        from django.utils import timezone as tz

        from tests.ingest.test_agent_api import batch, post_batch

        post_batch(self.client, self.org, self.alice, batch(start=tz.now() - timedelta(minutes=2)))
        url = reverse("finops-gpus", kwargs={"org_code": self.org.code})
        self.client.force_login(self.bob)
        page = self.client.get(url)
        self.assertContains(page, "gpu-box-1")
        self.assertContains(page, "reporting")
        self.assertContains(page, "2 × NVIDIA H100 80GB HBM3")
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(url).status_code, 404)


class GpuHostPageTests(BaseTestCase):
    def setUp(self):
        from datetime import timedelta

        from django.utils import timezone as tz

        from ingest.models import GpuHost
        from tests.ingest.test_agent_api import batch, post_batch

        post_batch(self.client, self.org, self.alice, batch(start=tz.now() - timedelta(minutes=3)))
        self.host = GpuHost.objects.get(org=self.org)
        recent = f"?start={(tz.now() - timedelta(days=1)).date().isoformat()}"
        self.url = reverse("finops-gpu-host", kwargs={"org_code": self.org.code, "code": self.host.code}) + recent

    def test_it_shows_charts_and_workloads_by_label(self):
        self.client.force_login(self.bob)
        page = self.client.get(self.url)
        self.assertContains(page, "plotly/plotly.min.js")
        self.assertContains(page, "acme")
        self.assertContains(page, "0.01")  # 40 GPU-seconds of acme's process, in GPU-hours
        figures = page.context["figures"]
        self.assertEqual(len(figures["utilization"]["data"]), 2)
        self.assertEqual(set(figures["utilization"]["data"][0]["y"]), {90.0})

    def test_it_hides_other_orgs(self):
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(self.url).status_code, 404)
        url = reverse("finops-gpu-host", kwargs={"org_code": self.charlies_org.code, "code": self.host.code})
        self.assertEqual(self.client.get(url).status_code, 404)

    def test_it_serves_plotly_from_the_package(self):
        from django.contrib.staticfiles import finders

        self.assertTrue(finders.find("plotly/plotly.min.js"))
