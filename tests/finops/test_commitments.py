"""The commitments page, and the provider-commitment row measuring what it records."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal as D

from django.test import SimpleTestCase

from accounts.services import agent_token_create
from finops.economics.facts import PeriodFacts
from finops.economics.rules import commitment_split, founder_table
from finops.models import Commitment
from finops.selectors.founder_facts import commitment_list
from tests.base import BaseTestCase
from tests.ingest.test_agent_api import batch

TODAY = date(2026, 10, 6)


def form(**overrides):
    data = {"name": "Lambda 1-year reservation", "kind": "gpu_reservation", "provider": "Lambda",
            "hosts": "gpu-box-1", "monthly_amount": "1000", "currency": "usd", "starts_on": "2026-09-01",
            "ends_on": "", "promised_revenue_amount": ""}  # fmt: skip
    return data | overrides


class CommitmentsPageTests(BaseTestCase):
    def url(self):
        return f"/o/{self.org.code}/commitments/"

    def test_it_records_a_reservation_and_measures_its_hosts(self):
        self.client.force_login(self.alice)
        self.assertEqual(self.client.post(self.url(), form()).status_code, 302)
        commitment = Commitment.objects.get(org=self.org)
        self.assertEqual((commitment.currency, commitment.host_names), ("USD", ["gpu-box-1"]))
        _, raw = agent_token_create(org=self.org, host_name="gpu-box-1", created_by=self.alice)
        start = datetime(2026, 10, 5, 10, tzinfo=UTC)
        body = batch("b1", start=start, ticks=360)  # one busy GPU of two for an hour
        self.client.post("/api/v1/agent/samples/", json.dumps(body), content_type="application/json",
                         HTTP_AUTHORIZATION=f"Bearer {raw}")  # fmt: skip
        [row] = commitment_list(org=self.org, today=TODAY)
        # 3,600 busy GPU-seconds of 2 GPUs x 28 days x 86,400 s
        expected = D(3600) / D(2 * 28 * 86400)
        self.assertEqual(row["utilisation"].quantize(D("1e-15")), expected.quantize(D("1e-15")))
        self.assertContains(self.client.get(self.url()), "Lambda 1-year reservation")

    def test_a_reservation_must_name_its_hosts(self):
        self.client.force_login(self.alice)
        response = self.client.post(self.url(), form(hosts=""))
        self.assertContains(response, "Name the GPU hosts")
        self.assertFalse(Commitment.objects.exists())

    def test_it_removes_a_commitment(self):
        self.client.force_login(self.alice)
        self.client.post(self.url(), form())
        code = Commitment.objects.get().code
        self.client.post(f"{self.url()}{code}/delete/")
        self.assertFalse(Commitment.objects.exists())

    def test_it_hides_other_orgs(self):
        self.client.force_login(self.alice)
        self.client.post(self.url(), form())
        code = Commitment.objects.get().code
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(self.url()).status_code, 404)
        self.assertEqual(self.client.post(f"/o/{self.charlies_org.code}/commitments/{code}/delete/").status_code, 404)
        self.assertTrue(Commitment.objects.exists())

    def test_it_requires_write(self):
        self.client.force_login(self.bob)
        self.assertEqual(self.client.get(self.url()).status_code, 200)
        self.assertEqual(self.client.post(self.url(), form()).status_code, 403)


class CommitmentRuleTests(SimpleTestCase):
    def row(self, **facts):
        return next(r for r in founder_table(PeriodFacts(currency="USD", **facts)) if r.key == "provider_commitment")

    def test_split_is_pro_rata_and_capped(self):
        self.assertEqual(commitment_split(D("365"), 28, D("0.5")), (D("168"), D("168")))
        self.assertEqual(commitment_split(D("365"), 28, D("2")), (D("336"), D("0")))

    def test_promised_capacity_costing_more_than_its_revenue_fires(self):
        result = self.row(promised=(("Acme dedicated H100s", D("3000"), D("2000")),))
        self.assertIs(result.stop_sign, True)
        self.assertEqual(result.offenders[0]["amount"], D("1000"))

    def test_promised_capacity_paid_for_by_its_revenue_stays_quiet(self):
        self.assertIs(self.row(promised=(("Acme dedicated H100s", D("3000"), D("4000")),)).stop_sign, False)
