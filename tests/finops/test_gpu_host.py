"""The GPU host page's hour facts and its settings page (/o/<org>/gpus/<host>/edit/)."""

from datetime import timedelta
from decimal import Decimal
from unittest import mock

from django.urls import reverse
from django.utils import timezone

from ingest.models import GpuHost
from ingest.services.agent import gpu_host_update
from tests.base import BaseTestCase
from tests.ingest.test_agent_api import batch, post_batch

# The data is of the last hours; pages show the last complete week unless asked: ask from yesterday through today.
RECENT = f"?start={(timezone.now() - timedelta(days=1)).date().isoformat()}"


def zombie_batch(start):
    """45 minutes of two idle GPUs; GPU 0 held by an unlabelled notebook at 0% SM (a zombie after 30)."""
    body = batch("notebook-1", start=start, ticks=270, util=(0, 0))
    body["processes"] = [
        {**entry, "sm_util_pct": 0, "labels": {}, "pid": 777} for i, entry in enumerate(body["processes"]) if i % 2 == 0
    ]
    return body


class GpuHostFactsTests(BaseTestCase):
    def setUp(self):
        start = (timezone.now() - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
        self.assertEqual(post_batch(self.client, self.org, self.alice, zombie_batch(start)).status_code, 201)
        post_batch(self.client, self.org, self.alice, batch("busy-1", start=start + timedelta(minutes=50), ticks=60))
        self.host = GpuHost.objects.get(org=self.org)
        self.url = reverse("finops-gpu-host", kwargs={"org_code": self.org.code, "code": self.host.code}) + RECENT

    def test_it_shows_busy_idle_zombie_and_unowned_gpu_hours(self):
        self.client.force_login(self.bob)
        page = self.client.get(self.url)
        # 45 idle minutes on each of 2 GPUs, then 10 minutes with GPU 0 busy and GPU 1 idle
        self.assertEqual(page.context["hours"]["busy"], 600 / 3600)
        self.assertEqual(page.context["hours"]["idle"], (2 * 2700 + 600) / 3600)
        self.assertEqual(page.context["hours"]["zombie"], 900 / 3600)
        self.assertEqual(page.context["hours"]["unowned"], (2 * 2700 + 600) / 3600)
        self.assertEqual(page.context["energy_kwh"], Decimal(350_000 * 10 * (540 + 120)) / Decimal(3_600_000_000))
        self.assertContains(page, "<dt>Busy GPU-hours</dt><dd>0.2</dd>", html=True)
        self.assertContains(page, "<dt>Idle GPU-hours</dt><dd>1.7</dd>", html=True)
        self.assertContains(page, "<dt>Unowned GPU-hours</dt><dd>1.7</dd>", html=True)
        self.assertContains(page, "0.64 kWh")

    def test_it_quotes_the_idle_and_zombie_limits_from_their_constants(self):
        self.client.force_login(self.bob)
        gpus = reverse("finops-gpus", kwargs={"org_code": self.org.code}) + RECENT
        self.assertContains(self.client.get(gpus), "below 5% utilisation")
        self.assertContains(self.client.get(gpus), "at about 0% for more than 30 minutes.")
        self.assertContains(self.client.get(self.url), "~0% for over 30 minutes")
        with (
            mock.patch("ingest.gpu_facts.IDLE_UTILIZATION_PCT", 10),
            mock.patch("ingest.gpu_facts.ZOMBIE_AFTER", timedelta(minutes=45)),
        ):
            page, host_page = self.client.get(gpus), self.client.get(self.url)
        self.assertContains(page, "below 10% utilisation")
        self.assertContains(page, "at about 0% for more than 45 minutes.")
        self.assertContains(page, 'title="Idle while a process held GPU memory at ~0% for over 45 minutes"')
        self.assertNotContains(page, "30 minutes")
        self.assertContains(host_page, "~0% for over 45 minutes")
        self.assertNotContains(host_page, "30 minutes")

    def test_it_counts_no_unowned_hours_on_an_owned_host(self):
        GpuHost.objects.all().delete()
        gpu_host_update(org=self.org, name="gpu-box-1", owner="ml-platform")
        start = (timezone.now() - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
        post_batch(self.client, self.org, self.alice, zombie_batch(start))
        self.client.force_login(self.alice)
        host = GpuHost.objects.get(org=self.org)
        page = self.client.get(
            reverse("finops-gpu-host", kwargs={"org_code": self.org.code, "code": host.code}) + RECENT
        )
        self.assertEqual(page.context["hours"]["unowned"], 0)
        self.assertEqual(page.context["hours"]["zombie"], 900 / 3600)

    def test_it_counts_only_this_hosts_gpus(self):
        other = batch("other-1", start=timezone.now() - timedelta(minutes=5), host="gpu-box-2")
        for item in (*other["gpus"], *other["samples"], *other["processes"]):
            key = "uuid" if "uuid" in item else "gpu_uuid"
            item[key] = item[key] + "-2"
        self.assertEqual(post_batch(self.client, self.org, self.alice, other, host_name="gpu-box-2").status_code, 201)
        self.client.force_login(self.alice)
        self.assertEqual(self.client.get(self.url).context["hours"]["busy"], 600 / 3600)

    def test_it_links_the_settings_for_writers_only(self):
        edit = reverse("finops-gpu-host-edit", kwargs={"org_code": self.org.code, "code": self.host.code})
        self.client.force_login(self.alice)
        self.assertContains(self.client.get(self.url), edit)
        self.client.force_login(self.bob)
        self.assertNotContains(self.client.get(self.url), edit)

    def test_it_hides_other_orgs(self):
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(self.url).status_code, 404)


class GpuHostEditPageTests(BaseTestCase):
    def setUp(self):
        self.host = gpu_host_update(org=self.org, name="gpu-box-1", provider="Lambda")
        self.url = reverse("finops-gpu-host-edit", kwargs={"org_code": self.org.code, "code": self.host.code})

    def post(self, **fields):
        data = {"owner": "", "provider": "", "instance_type": "", "bill_resource_id": "", "hourly_rate_amount": "",
                "currency": "", **fields}  # fmt: skip
        return self.client.post(self.url, data)

    def test_it_shows_the_hosts_settings_with_the_orgs_currency(self):
        self.client.force_login(self.alice)
        page = self.client.get(self.url)
        self.assertContains(page, "Host settings")
        self.assertContains(page, 'value="Lambda"')
        self.assertEqual(page.context["form"].initial["currency"], "USD")

    def test_it_saves_the_settings_through_the_service(self):
        self.client.force_login(self.alice)
        response = self.post(
            owner="ml-platform",
            provider="on-premises",
            instance_type="8x H100 SXM",
            bill_resource_id=" i-0abc123 ",
            hourly_rate_amount="23.1234567891",
            currency="eur",
        )
        host_url = reverse("finops-gpu-host", kwargs={"org_code": self.org.code, "code": self.host.code})
        self.assertRedirects(response, host_url, fetch_redirect_response=False)
        host = GpuHost.objects.get(pk=self.host.pk)
        self.assertEqual(
            (host.owner, host.provider, host.instance_type, host.bill_resource_id, host.currency),
            ("ml-platform", "on-premises", "8x H100 SXM", "i-0abc123", "EUR"),
        )
        self.assertEqual(host.hourly_rate_amount, Decimal("23.1234567891"))
        page = self.client.get(host_url)
        self.assertContains(page, "Settings of gpu-box-1 saved.")
        self.assertContains(page, "€23.12 an hour")

    def test_it_defaults_the_currency_and_clears_the_rate(self):
        self.org.currency = "GBP"
        self.org.save()
        gpu_host_update(org=self.org, name="gpu-box-1", hourly_rate_amount=Decimal("4"), currency="USD")
        self.client.force_login(self.alice)
        self.assertEqual(self.post(owner="li").status_code, 302)
        host = GpuHost.objects.get(pk=self.host.pk)
        self.assertEqual((host.owner, host.hourly_rate_amount, host.currency), ("li", None, "GBP"))

    def test_it_rejects_a_negative_rate_and_a_bad_currency(self):
        self.client.force_login(self.alice)
        for fields, field in (
            ({"hourly_rate_amount": "-1"}, "hourly_rate_amount"),
            ({"hourly_rate_amount": "1e400"}, "hourly_rate_amount"),
            ({"hourly_rate_amount": "NaN"}, "hourly_rate_amount"),
            ({"hourly_rate_amount": "0.00000000001"}, "hourly_rate_amount"),
            ({"currency": "EURO"}, "currency"),
            ({"currency": "U$D"}, "currency"),
            ({"currency": "€€€"}, "currency"),
        ):
            response = self.post(**fields)
            self.assertEqual(response.status_code, 200, fields)
            self.assertIn(field, response.context["form"].errors, fields)
        self.assertEqual(GpuHost.objects.get(pk=self.host.pk).provider, "Lambda")

    def test_it_takes_a_zero_rate(self):
        self.client.force_login(self.alice)
        self.post(hourly_rate_amount="0")
        self.assertEqual(GpuHost.objects.get(pk=self.host.pk).hourly_rate_amount, Decimal(0))

    def test_it_hides_other_orgs(self):
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(self.url).status_code, 404)
        self.assertEqual(self.post(owner="charlie").status_code, 404)
        theirs = reverse("finops-gpu-host-edit", kwargs={"org_code": self.charlies_org.code, "code": self.host.code})
        self.assertEqual(self.client.get(theirs).status_code, 404)
        self.assertEqual(self.client.post(theirs, {"owner": "charlie"}).status_code, 404)
        self.assertEqual(GpuHost.objects.get(pk=self.host.pk).owner, "")

    def test_it_requires_write(self):
        self.client.force_login(self.bob)
        self.assertEqual(self.client.get(self.url).status_code, 403)
        self.assertEqual(self.post(owner="bob").status_code, 403)
        self.assertEqual(GpuHost.objects.get(pk=self.host.pk).owner, "")

    def test_it_sends_anonymous_visitors_to_login(self):
        response = self.client.get(self.url)
        self.assertRedirects(response, reverse("accounts-login") + "?next=" + self.url, fetch_redirect_response=False)
