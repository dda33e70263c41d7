"""Reads that used to ask the database once per listed thing now ask once in all; each gives what asking one at a
time gives (the per-thing reads are written out here as the reference)."""

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

from django.db.models import Sum

from accounts.services import agent_token_create
from finops.models import Budget, Commitment, WorkRollup
from finops.selectors.founder_facts import _manual_commitments, _releases
from finops.selectors.inputs import economics_settings_for
from finops.selectors.onboarding import onboarding_progress
from finops.services.settings import commitment_create, release_create
from ingest.models import Gpu, GpuHost, GpuHour, GpuMinute
from ingest.selectors import host_timeline
from tests.base import BaseTestCase
from tests.ingest.test_agent_api import batch

END = date(2026, 11, 9)


def work(org, day, cost, **fields):
    fields = {"kind": "allocated", "source": "api_calls", "bucket": "inference", "label": "customer_value",
              "currency": "USD", **fields}  # fmt: skip
    return WorkRollup.objects.create(org=org, day=day, cost_amount=D(cost), **fields)


def midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


class ReleasesTests(BaseTestCase):
    def test_each_release_gets_the_evaluation_spend_of_its_own_days(self):
        for offset in range(-12, 10):
            day = date(2026, 11, 2) + timedelta(days=offset)
            work(self.org, day, f"{1 + offset % 5}.25", bucket="evaluation")
            work(self.org, day, "100", bucket="inference")  # not evaluation: never counted
        work(self.org, date(2026, 11, 3), "7.5", bucket="evaluation", currency="EUR")  # every currency, as before
        for name, moment in (("v1", "2026-11-02T00:00:00"), ("v2", "2026-11-04T23:59:00"),
                             ("v3", "2026-11-08T12:00:00"), ("v0", "2026-10-30T09:00:00")):  # fmt: skip
            release_create(org=self.org, name=name, released_at=datetime.fromisoformat(moment).replace(tzinfo=UTC))
        settings = economics_settings_for(org=self.org)
        with self.assertNumQueries(2):
            found = list(_releases(self.org, date(2026, 11, 2), END, settings))
        expected = []
        for release in self.org_releases():  # one read per release, as it used to be
            day = release.released_at.date()
            rows = WorkRollup.objects.filter(org=self.org, bucket="evaluation", day__gte=day - timedelta(days=7),
                                             day__lt=day + timedelta(days=1))  # fmt: skip
            expected.append((release.name, rows.aggregate(total=Sum("cost_amount"))["total"] or D(0)))
        self.assertEqual(found, expected)
        self.assertEqual([name for name, _ in found], ["v3", "v2", "v1"], "the period's, newest first")

    def org_releases(self):
        from finops.models import Release

        return Release.objects.filter(org=self.org, released_at__gte=midnight(date(2026, 11, 2)),
                                      released_at__lt=midnight(END))  # fmt: skip


class ManualCommitmentsTests(BaseTestCase):
    def setUp(self):
        start = datetime(2026, 10, 20, 10, tzinfo=UTC)
        for host, days in (("gpu-a", (0, 3, 9)), ("gpu-b", (1, 12))):
            _, raw = agent_token_create(org=self.org, host_name=host, created_by=self.alice)
            for i, offset in enumerate(days):
                body = batch(f"{host}-{i}", start=start + timedelta(days=offset), ticks=120, host=host)
                for gpu in body["gpus"]:
                    gpu["uuid"] = f"{gpu['uuid']}-{host}"
                for item in body["samples"] + body["processes"]:
                    item["gpu_uuid"] = f"{item['gpu_uuid']}-{host}"
                response = self.client.post("/api/v1/agent/samples/", json.dumps(body), content_type="application/json",
                                            HTTP_AUTHORIZATION=f"Bearer {raw}")  # fmt: skip
                self.assertEqual(response.status_code, 201, response.content)
        for offset in range(-40, 0):
            day = END + timedelta(days=offset)
            work(self.org, day, f"{2 + offset % 3}", provider="openai")
            work(self.org, day, "1.5", provider="openai", source="api_gap", kind="unattributed")
            work(self.org, day, "4", provider="anthropic")
            work(self.org, day, "50", provider="openai", source="cloud_tagged")  # not API spend
        common = {"currency": "USD", "monthly_amount": D("300")}
        commitment_create(org=self.org, name="openai all", kind=Commitment.Kind.API_SPEND, provider="OpenAI",
                          starts_on=date(2026, 9, 1), **common)  # fmt: skip
        commitment_create(org=self.org, name="openai late", kind=Commitment.Kind.API_SPEND, provider="openai",
                          starts_on=date(2026, 10, 25), ends_on=date(2026, 11, 5), **common)  # fmt: skip
        commitment_create(org=self.org, name="anthropic", kind=Commitment.Kind.API_SPEND, provider="anthropic",
                          starts_on=date(2026, 10, 1), **common)  # fmt: skip
        commitment_create(org=self.org, name="not yet", kind=Commitment.Kind.API_SPEND, provider="openai",
                          starts_on=date(2026, 12, 1), **common)  # fmt: skip
        commitment_create(org=self.org, name="both boxes", kind=Commitment.Kind.GPU_RESERVATION, hosts="gpu-a, gpu-b",
                          starts_on=date(2026, 10, 1), **common)  # fmt: skip
        commitment_create(org=self.org, name="box a late", kind=Commitment.Kind.GPU_RESERVATION, hosts="gpu-a,gpu-a",
                          starts_on=date(2026, 10, 22), **common)  # fmt: skip
        commitment_create(org=self.org, name="ended", kind=Commitment.Kind.GPU_RESERVATION, hosts="gpu-b",
                          starts_on=date(2026, 10, 1), ends_on=date(2026, 10, 10), **common)  # fmt: skip
        commitment_create(org=self.org, name="unknown box", kind=Commitment.Kind.GPU_RESERVATION, hosts="gpu-z",
                          starts_on=date(2026, 10, 1), **common)  # fmt: skip

    def test_every_commitment_is_measured_as_when_read_one_by_one(self):
        self.assertTrue(GpuHour.objects.filter(org=self.org).exists())
        with self.assertNumQueries(4):  # the commitments, API spend per day, busy GPU-seconds per day, GPU counts
            found = list(_manual_commitments(self.org, END))
        self.assertEqual(found, list(self.one_by_one(END)))
        names = ["anthropic", "both boxes", "box a late", "openai all", "openai late", "unknown box"]
        self.assertEqual([name for name, _, _ in found], names, "by name; not started and ended ones left out")
        self.assertTrue(all(used > 0 for name, used, _ in found if name != "unknown box"), found)

    def one_by_one(self, end):
        """The reads as they were: two or three queries per commitment."""
        from finops.economics.rules import commitment_split
        from finops.selectors.founder_facts import _window

        for commitment in Commitment.objects.filter(org=self.org, currency="USD", starts_on__lt=end):
            since, until = _window(commitment, end)
            days = (until - since).days
            if days <= 0:
                continue
            if commitment.kind == Commitment.Kind.API_SPEND:
                rows = WorkRollup.objects.filter(org=self.org, day__gte=since, day__lt=until, currency="USD",
                                                 source__in=("api_calls", "api_gap"),
                                                 provider=commitment.provider.lower())  # fmt: skip
                spend = rows.aggregate(total=Sum("cost_amount"))["total"] or D(0)
                committed = commitment.monthly_amount * 12 * days / 365
                share = spend / committed if committed else D(0)
            else:
                hours = GpuHour.objects.filter(org=self.org, gpu__host__name__in=commitment.host_names,
                                               hour__gte=midnight(since), hour__lt=midnight(until))  # fmt: skip
                gpus = Gpu.objects.filter(org=self.org, host__name__in=commitment.host_names).count()
                busy = hours.aggregate(busy=Sum("busy_seconds"))["busy"] or 0
                share = D(busy) / (gpus * days * 86400) if gpus else D(0)
            yield (commitment.name, *commitment_split(commitment.monthly_amount, days, share))


class HostTimelineTests(BaseTestCase):
    def setUp(self):
        _, raw = agent_token_create(org=self.org, host_name="gpu-box-1", created_by=self.alice)
        self.start = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)
        body = batch("b1", start=self.start, ticks=6 * 150, util=(73, 0))  # two and a half hours, 2 GPUs
        for i, sample in enumerate(body["samples"]):
            sample["utilization_gpu_pct"] = (i * 7) % 101
            sample["power_mw"] = None if i % 11 == 0 else 300_000 + i
        response = self.client.post("/api/v1/agent/samples/", json.dumps(body), content_type="application/json",
                                    HTTP_AUTHORIZATION=f"Bearer {raw}")  # fmt: skip
        self.assertEqual(response.status_code, 201, response.content)
        self.host = GpuHost.objects.get(org=self.org)

    def test_up_to_a_day_it_is_one_point_per_stored_minute(self):
        series = host_timeline(org=self.org, host=self.host, start=midnight(date(2026, 11, 3)),
                               end=midnight(date(2026, 11, 4)))  # fmt: skip
        minutes = GpuMinute.objects.filter(org=self.org).select_related("gpu").order_by("gpu__index", "minute")
        expected = {}
        for m in minutes:
            gpu = expected.setdefault(m.gpu_id, {"label": f"#{m.gpu.index} {m.gpu.name}", "points": []})
            power = m.power_mw_sum / m.power_samples / 1000 if m.power_samples else None
            gpu["points"].append((m.minute, m.utilization_gpu_sum / m.samples, m.memory_used_max_bytes, power))
        self.assertEqual(series, expected)
        self.assertEqual([len(s["points"]) for s in series.values()], [150, 150])

    def test_over_a_day_it_is_one_point_per_hour_summed_in_the_database(self):
        week = host_timeline(org=self.org, host=self.host, start=midnight(date(2026, 11, 2)),
                             end=midnight(date(2026, 11, 9)))  # fmt: skip
        series = host_timeline(org=self.org, host=self.host, start=midnight(date(2026, 11, 1)),
                               end=midnight(date(2026, 12, 1)))  # fmt: skip
        self.assertEqual(week, series)  # the page's default week is hourly too
        self.assertEqual(host_timeline(org=self.org, host=self.host, start=self.start - timedelta(hours=20),
                                       end=self.start + timedelta(hours=4, seconds=1)), series)  # fmt: skip
        for gpu, points in ((g, s["points"]) for g, s in series.items()):
            self.assertEqual([p[0] for p in points],
                             [datetime(2026, 11, 3, h, tzinfo=UTC) for h in (9, 10, 11)])  # fmt: skip
            for at, utilization, memory, power in points:
                minutes = list(GpuMinute.objects.filter(gpu_id=gpu, minute__gte=at, minute__lt=at + timedelta(hours=1)))
                self.assertAlmostEqual(utilization, sum(m.utilization_gpu_sum for m in minutes) /
                                       sum(m.samples for m in minutes))  # fmt: skip
                self.assertEqual(memory, max(m.memory_used_max_bytes for m in minutes))
                watts = sum(m.power_mw_sum or 0 for m in minutes) / sum(m.power_samples for m in minutes) / 1000
                self.assertAlmostEqual(power, watts)
        year = host_timeline(org=self.org, host=self.host, start=midnight(date(2026, 1, 1)),
                             end=midnight(date(2027, 6, 1)))  # fmt: skip
        self.assertEqual([[p[0] for p in s["points"]] for s in year.values()],
                         [[midnight(date(2026, 11, 3))]] * 2)  # fmt: skip


class BudgetEvidenceTests(BaseTestCase):
    def test_it_names_three_budgets_and_counts_the_rest_in_one_read(self):
        for i, scope in enumerate(("org", "customer", "feature", "plan", "customer")):
            Budget.objects.create(org=self.org, scope=scope, target="" if scope == "org" else f"t{i}",
                                  period=Budget.Period.MONTH, amount=D("50"), currency="USD")  # fmt: skip
        step = next(s for s in onboarding_progress(org=self.org).steps if s.key == "add_caps")
        self.assertEqual(step.evidence, "5 budgets: customer t1 per month, customer t4 per month, feature t2 per month "
                                        "and 2 more.")  # fmt: skip
