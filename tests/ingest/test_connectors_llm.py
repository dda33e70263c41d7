"""OpenAI's organisation Usage/Costs API and Anthropic's Admin API usage and cost reports, pulled by their
connectors (connector_create + connector_run) from a local server answering the documented shapes
(tests/ingest/llm_admin_server.py) into the ledger: totals to the cent, a second run importing nothing, a
restated day replacing the old numbers, a 429 storm waited out, and bad keys, 429s that never end and malformed
answers failing the run with the fix on the connector's page, nothing changed."""

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.test import override_settings
from django.urls import reverse

from ingest.connectors.llm_reports import dumps_exact
from ingest.connectors.remote import retry_after_seconds
from ingest.models import Connector, ConnectorRun, CostLine, Upload, UsageEvent
from ingest.services.connectors import connector_check, connector_create, connector_run
from tests.base import BaseTestCase, sample_path
from tests.ingest.llm_admin_server import Scenario, serve

CENT = Decimal("0.01")
COOKBOOK = "llm/openai_usage_cookbook_output.json"
TOKENS = ("input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens", "request_count")


def _today() -> date:
    return datetime.now(UTC).date()


def _days(count: int) -> list[date]:
    """The `count` days before today, oldest first."""
    return [_today() - timedelta(days=count - n) for n in range(count)]


def _months(days) -> set[str]:
    return {f"{day:%Y-%m}" for day in days}


def openai_usage() -> dict[date, list[dict]]:
    """The cookbook's 31 daily buckets of completions usage, moved to end yesterday."""
    buckets = json.loads(sample_path(COOKBOOK).read_text(), parse_float=Decimal)
    return {day: bucket["results"] for day, bucket in zip(_days(len(buckets)), buckets, strict=True)}


def openai_cost(n: int, scale: int = 1) -> list[dict]:
    return [
        {
            "object": "organization.costs.result",
            "amount": {"value": Decimal(f"{(n * 37) % 90 * scale}.{n % 97:02d}3478"), "currency": "usd"},
            "line_item": "gpt-4o-2024-08-06, input",
            "project_id": "proj_alpha",
        },
        {
            "object": "organization.costs.result",
            "amount": {"value": Decimal(f"0.{n % 10}61") * scale, "currency": "usd"},
            "line_item": "gpt-4o-mini, output",
            "project_id": None,
        },
    ]


def anthropic_usage_result(n: int, scale: int = 1) -> list[dict]:
    return [
        {
            "uncached_input_tokens": (1000 + n * 17) * scale,
            "cache_creation": {"ephemeral_1h_input_tokens": n * scale, "ephemeral_5m_input_tokens": 3 * n * scale},
            "cache_read_input_tokens": 40 * n * scale,
            "output_tokens": (200 + n) * scale,
            "server_tool_use": {"web_search_requests": n % 3},
            "api_key_id": None,
            "workspace_id": "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ",
            "model": "claude-sonnet-4-20250514",
            "service_tier": "standard",
            "context_window": "0-200k",
            "inference_geo": None,
        }
    ]


def anthropic_cost(n: int, scale: int = 1) -> list[dict]:
    base = {"currency": "USD", "workspace_id": "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ", "cost_type": "tokens"}
    base |= {"context_window": "0-200k", "model": "claude-sonnet-4-20250514", "service_tier": "standard"}
    return [
        {**base, "amount": f"{(n * 53) % 700 * scale}.{n % 89:02d}7", "token_type": "uncached_input_tokens",
         "description": "Claude Sonnet 4 Usage - Input Tokens"},
        {**base, "amount": f"{n * 11 * scale}.5", "token_type": "output_tokens",
         "description": "Claude Sonnet 4 Usage - Output Tokens"},
    ]  # fmt: skip


def expected_usage(provider: str, results: list[dict]) -> dict:
    """What the ledger must hold for these results, read independently of the importer."""
    totals = dict.fromkeys(TOKENS, 0)
    for r in results:
        if provider == "openai":
            totals["input_tokens"] += r["input_tokens"] - r["input_cached_tokens"]
            totals["output_tokens"] += r["output_tokens"]
            totals["cached_input_tokens"] += r["input_cached_tokens"]
            totals["request_count"] += r["num_model_requests"]
        else:
            totals["input_tokens"] += r["uncached_input_tokens"]
            totals["output_tokens"] += r["output_tokens"]
            totals["cached_input_tokens"] += r["cache_read_input_tokens"]
            totals["cache_write_tokens"] += sum(r["cache_creation"].values())
            totals["request_count"] += 1  # a report row counts as one aggregate of unknown size
    if provider == "openai":
        totals["cache_write_tokens"] = None  # not reported: unknown, not 0
    return totals


def expected_cost(provider: str, results: list[dict]) -> Decimal:
    if provider == "openai":
        return sum((r["amount"]["value"] for r in results), Decimal(0))
    return sum((Decimal(r["amount"]) for r in results), Decimal(0)).scaleb(-2)  # cents


class _LlmConnectorTests:
    """The same behaviour asked of both connectors; subclasses name the provider and fill the server."""

    provider: str
    kind: str
    key: str
    wrong_key: str

    def fill(self, scenario: Scenario) -> None:
        raise NotImplementedError

    def restated(self, day_number: int) -> tuple[list[dict], list[dict]]:
        raise NotImplementedError

    def setUp(self):
        super().setUp()
        settings = override_settings(CONNECTOR_PRIVATE_ENDPOINTS=True)  # the server listens on 127.0.0.1
        settings.enable()
        self.addCleanup(settings.disable)
        self.scenario = Scenario(provider=self.provider, key=self.key, page_size=7)
        self.fill(self.scenario)
        server = serve(self.scenario)
        self.base_url = next(server)
        self.addCleanup(server.close)

    def connector(self, key=None, **values):
        values = {"admin_key": key or self.key, "base_url": self.base_url, "wait_budget_seconds": "3", **values}
        return connector_create(org=self.org, kind=self.kind, name=f"{self.provider} admin", values=values,
                                created_by=self.alice)  # fmt: skip

    def ledger(self) -> dict:
        usage = UsageEvent.objects.for_org(self.org).aggregate(**{f: Sum(f) for f in TOKENS})
        cost = CostLine.objects.for_org(self.org).aggregate(total=Sum("billed_cost_amount"))["total"]
        return {"cost": cost, **usage, "rows": UsageEvent.objects.for_org(self.org).count()}

    def expected(self, *scenarios) -> dict:
        """What the ledger must hold after pulling these scenarios (the test's own by default)."""
        scenarios = scenarios or (self.scenario,)
        usage = [r for scenario in scenarios for results in scenario.usage.values() for r in results]
        costs = [r for scenario in scenarios for results in scenario.costs.values() for r in results]
        return {"cost": expected_cost(self.provider, costs), **expected_usage(self.provider, usage), "rows": len(usage)}

    def files_expected(self) -> int:
        return len(_months(d for d, r in self.scenario.usage.items() if r)) + len(
            _months(d for d, r in self.scenario.costs.items() if r)
        )

    def page(self, connector):
        self.client.force_login(self.alice)
        return self.client.get(reverse("ingest-connector", kwargs={"org_code": self.org.code, "code": connector.code}))

    # -- the tests --------------------------------------------------------------------------------------------

    def test_it_pulls_every_month_into_the_ledger_with_totals_to_the_cent(self):
        connector = self.connector()
        ok, message, _ = connector_check(connector=connector)
        self.assertTrue(ok, message)
        self.assertIn("accepted the admin key", message)
        run = connector_run(connector=connector)
        self.assertEqual((run.status, run.error), (ConnectorRun.Status.OK, ""))
        self.assertEqual((run.files_seen, run.files_imported), (self.files_expected(),) * 2)
        ledger, expected = self.ledger(), self.expected()
        self.assertEqual(ledger, expected)
        self.assertEqual(ledger["cost"].quantize(CENT), expected["cost"].quantize(CENT))
        self.assertGreater(expected["cost"], 100)
        uploads = Upload.objects.for_org(self.org)
        self.assertEqual({u.status for u in uploads}, {Upload.Status.DONE})
        self.assertEqual({u.kind for u in uploads}, {"bill", "usage"})
        # A month of daily buckets took several pages (7 buckets a page here): the cursor was followed.
        self.assertTrue(any("page" in r["query"] for r in self.scenario.answered("usage")))
        self.assertTrue(any("page" in r["query"] for r in self.scenario.answered("costs")))
        self.assertNotIn(self.key, self.page(connector).content.decode())

    def test_a_second_run_imports_nothing_new(self):
        connector = self.connector()
        connector_run(connector=connector)
        before, uploads = self.ledger(), Upload.objects.for_org(self.org).count()
        run = connector_run(connector=connector)
        self.assertEqual(run.status, ConnectorRun.Status.OK)
        self.assertEqual((run.files_imported, run.files_unchanged), (0, self.files_expected()))
        self.assertEqual(self.ledger(), before)
        self.assertEqual(Upload.objects.for_org(self.org).count(), uploads)

    def test_a_restated_day_replaces_the_old_numbers(self):
        connector = self.connector()
        connector_run(connector=connector)
        day = _today() - timedelta(days=9)
        old_usage, old_costs = self.scenario.usage[day], self.scenario.costs[day]
        new_usage, new_costs = self.restated(9)
        self.scenario.usage[day], self.scenario.costs[day] = new_usage, new_costs
        run = connector_run(connector=connector)
        self.assertEqual((run.status, run.files_imported), (ConnectorRun.Status.OK, 2))  # that month's two reports
        self.assertEqual(self.ledger(), self.expected())
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        events = UsageEvent.objects.for_org(self.org)
        that_day = events.filter(occurred_at__gte=start, occurred_at__lt=start + timedelta(days=1))
        # The new numbers, not the old and the new.
        self.assertEqual(that_day.aggregate(**{f: Sum(f) for f in TOKENS}), expected_usage(self.provider, new_usage))
        self.assertNotEqual(expected_usage(self.provider, new_usage), expected_usage(self.provider, old_usage))
        day_cost = CostLine.objects.for_org(self.org).filter(charge_period_start=start)
        day_total = day_cost.aggregate(total=Sum("billed_cost_amount"))["total"]
        self.assertEqual(day_total, expected_cost(self.provider, new_costs))
        self.assertNotEqual(expected_cost(self.provider, new_costs), expected_cost(self.provider, old_costs))
        latest = Upload.objects.for_org(self.org).order_by("-created_at")[:2]
        self.assertTrue(all(u.rows_replaced > 0 for u in latest))

    def test_a_429_storm_is_waited_out(self):
        self.scenario.throttle, self.scenario.retry_after = 5, "0"
        run = connector_run(connector=self.connector())
        self.assertEqual((run.status, run.error), (ConnectorRun.Status.OK, ""))
        self.assertEqual(self.ledger(), self.expected())
        self.assertEqual(sum(r["status"] == 429 for r in self.scenario.requests), 5)

    def test_it_backs_off_without_retry_after_and_reads_an_http_date(self):
        connector = self.connector()
        self.scenario.throttle, self.scenario.retry_after = 2, None  # backoff: 1/20 of the 3 s budget first
        self.assertEqual(connector_run(connector=connector).status, ConnectorRun.Status.OK)
        self.scenario.throttle, self.scenario.retry_after = 2, "Wed, 21 Oct 2015 07:28:00 GMT"  # passed: no wait
        self.scenario.costs[_today() - timedelta(days=3)] = self.restated(3)[1]
        self.assertEqual(connector_run(connector=connector).status, ConnectorRun.Status.OK)
        self.assertEqual(self.ledger(), self.expected())
        self.assertEqual(sum(r["status"] == 429 for r in self.scenario.requests), 4)

    def test_429s_that_never_end_fail_clearly_and_change_nothing(self):
        connector = self.connector()
        connector_run(connector=connector)
        before, uploads = self.ledger(), Upload.objects.for_org(self.org).count()
        self.scenario.usage[_today() - timedelta(days=4)] = self.restated(4)[0]
        self.scenario.throttle, self.scenario.retry_after = 10**6, "0"
        run = connector_run(connector=connector)
        self.assertEqual(run.status, ConnectorRun.Status.FAILED)
        self.assertIn("kept answering 429 (rate limited)", run.error)
        self.assertIn("Try again later", run.fix)
        self.assertEqual((self.ledger(), Upload.objects.for_org(self.org).count()), (before, uploads))
        page = self.page(connector)
        self.assertContains(page, "kept answering 429 (rate limited)")
        self.assertContains(page, "Try again later")
        # A Retry-After longer than the wait budget is not waited for at all.
        self.scenario.throttle, self.scenario.retry_after = 1, "120"
        started = datetime.now(UTC)
        run = connector_run(connector=connector)
        self.assertLess((datetime.now(UTC) - started).total_seconds(), 5)
        self.assertIn("kept answering 429", run.error)
        self.scenario.throttle = 0
        run = connector_run(connector=connector)
        self.assertEqual((run.status, run.files_imported), (ConnectorRun.Status.OK, 1))
        self.assertEqual(self.ledger(), self.expected())

    def test_a_bad_key_fails_clearly_and_changes_nothing(self):
        connector = self.connector(key=self.wrong_key)
        ok, message, fix = connector_check(connector=connector)
        self.assertFalse(ok)
        self.assertIn("refused the admin key (HTTP 401", message)
        self.assertIn("Admin", fix)
        run = connector_run(connector=connector)
        self.assertEqual(run.status, ConnectorRun.Status.FAILED)
        self.assertIn("refused the admin key", run.error)
        self.assertFalse(Upload.objects.for_org(self.org).exists())
        self.assertEqual(self.ledger()["rows"], 0)
        page = self.page(connector)
        self.assertContains(page, "refused the admin key")
        self.assertNotIn(self.wrong_key, page.content.decode())

    def test_a_malformed_answer_fails_clearly_and_changes_nothing(self):
        connector = self.connector()
        for malformed, said in (("not_json", "is not JSON"), ("no_data", "a page without a data list")):
            with self.subTest(malformed):
                self.scenario.malformed, self.scenario.malformed_report = malformed, "costs"
                run = connector_run(connector=connector)
                self.assertEqual(run.status, ConnectorRun.Status.FAILED)
                self.assertIn(said, run.error)
                self.assertIn("nothing was imported", run.error)
                # The usage report answered well, but a run imports all of its months or none.
                self.assertFalse(Upload.objects.for_org(self.org).exists())
                self.assertContains(self.page(connector), said)
        self.scenario.malformed = None
        self.assertEqual(connector_run(connector=connector).status, ConnectorRun.Status.OK)
        self.assertEqual(self.ledger(), self.expected())

    def test_a_member_connects_tests_and_runs_it_from_the_pages(self):
        self.client.force_login(self.alice)
        org = self.org.code
        create = reverse("ingest-connector-create", kwargs={"org_code": org, "kind": self.kind})
        form = self.client.get(create)
        self.assertContains(form, "Admin")
        values = {"name": "LLM spend", "schedule_hour": "5", "admin_key": self.key, "base_url": self.base_url,
                  "lookback_days": "35", "wait_budget_seconds": "3"}  # fmt: skip
        created = self.client.post(create, values)
        connector = Connector.objects.for_org(self.org).get()
        self.assertRedirects(created, reverse("ingest-connector", kwargs={"org_code": org, "code": connector.code}))
        kwargs = {"org_code": org, "code": connector.code}
        tested = self.client.post(reverse("ingest-connector-test", kwargs=kwargs), follow=True)
        self.assertContains(tested, "accepted the admin key")
        with self.captureOnCommitCallbacks(execute=True):
            ran = self.client.post(reverse("ingest-connector-run", kwargs=kwargs), follow=True)
        self.assertEqual(ran.status_code, 200)
        self.assertEqual(self.ledger(), self.expected())
        page = self.page(connector).content.decode()
        self.assertNotIn(self.key, page)
        self.assertIn(f"{self.kind}-costs-{_today() - timedelta(days=5):%Y-%m}.json", page)
        # bob views the organisation: he sees the connector, and cannot run it.
        self.client.force_login(self.bob)
        self.assertEqual(self.client.get(reverse("ingest-connector", kwargs=kwargs)).status_code, 200)
        runs = ConnectorRun.objects.for_org(self.org).count()
        self.assertIn(self.client.post(reverse("ingest-connector-run", kwargs=kwargs)).status_code, (403, 404))
        self.assertEqual(ConnectorRun.objects.for_org(self.org).count(), runs)

    def test_two_organisations_of_one_provider_stay_apart(self):
        other = Scenario(provider=self.provider, key=f"{self.key}-b")
        self.fill(other)  # the same days and numbers, in another organisation of the provider
        server = serve(other)
        other_url = next(server)
        self.addCleanup(server.close)
        first = self.connector(organization_id="org-alpha")
        values = {"admin_key": other.key, "base_url": other_url, "organization_id": "org-beta"}
        second = connector_create(org=self.org, kind=self.kind, name="second", values=values, created_by=self.alice)
        self.assertEqual(connector_run(connector=first).status, ConnectorRun.Status.OK)
        self.assertEqual(connector_run(connector=second).status, ConnectorRun.Status.OK)
        self.assertEqual(self.ledger(), self.expected(self.scenario, other))  # neither replaced the other
        accounts = set(CostLine.objects.for_org(self.org).values_list("billing_account_id", flat=True))
        self.assertEqual(accounts, {"org-alpha", "org-beta"})
        day = _today() - timedelta(days=9)
        other.usage[day], other.costs[day] = self._restate(other, 9)
        self.assertEqual(connector_run(connector=second).files_imported, 2)
        self.assertEqual(self.ledger(), self.expected(self.scenario, other))  # its restated day, and only its own

    def _restate(self, scenario, day_number):
        mine, self.scenario = self.scenario, scenario
        try:
            return self.restated(day_number)
        finally:
            self.scenario = mine

    def test_a_base_url_on_this_servers_network_or_in_plain_http_is_refused(self):
        with override_settings(CONNECTOR_PRIVATE_ENDPOINTS=False):
            with self.assertRaisesMessage(ValidationError, "is on a private network"):
                self.connector(base_url="https://169.254.169.254")
            with self.assertRaisesMessage(ValidationError, "is not an https:// address"):
                self.connector(base_url="http://api.example.com")
        self.assertFalse(Connector.objects.for_org(self.org).exists())

    def test_another_organisation_cannot_open_the_connector(self):
        connector = self.connector()
        self.client.force_login(self.charlie)
        url = reverse("ingest-connector", kwargs={"org_code": self.org.code, "code": connector.code})
        self.assertEqual(self.client.get(url).status_code, 404)
        url = reverse("ingest-connector", kwargs={"org_code": self.charlies_org.code, "code": connector.code})
        self.assertEqual(self.client.get(url).status_code, 404)


class OpenAIAdminConnectorTest(_LlmConnectorTests, BaseTestCase):
    provider, kind = "openai", "openai_admin"
    key, wrong_key = "sk-admin-test-7f3a9c", "sk-proj-not-an-admin-key-1234"

    def fill(self, scenario):
        scenario.usage = openai_usage()
        scenario.costs = {day: openai_cost(n) for n, day in enumerate(_days(31), start=1)}

    def restated(self, day_number):
        results = json.loads(json.dumps(self.scenario.usage[_today() - timedelta(days=day_number)]))
        self.assertTrue(results, "the cookbook has no usage that day: restate another")
        for r in results:
            r["input_tokens"] += 1000
            r["output_tokens"] += 7
            r["num_model_requests"] += 3
        return results, openai_cost(day_number, scale=3)

    def test_it_asks_for_daily_buckets_grouped_and_of_the_projects_named(self):
        connector = self.connector(project_ids="proj_alpha, proj_beta")
        connector_run(connector=connector)
        usage, costs = self.scenario.answered("usage"), self.scenario.answered("costs")
        self.assertTrue(usage and costs)
        for request in usage + costs:
            self.assertEqual(request["headers"]["authorization"], f"Bearer {self.key}")
            self.assertEqual(request["query"]["bucket_width"], ["1d"])
            self.assertEqual(request["query"]["project_ids"], ["proj_alpha", "proj_beta"])
        self.assertEqual(set(usage[0]["query"]["group_by"]), {"model", "project_id", "batch"})
        self.assertEqual(set(costs[0]["query"]["group_by"]), {"line_item", "project_id"})
        starts = {datetime.fromtimestamp(int(r["query"]["start_time"][0]), UTC) for r in usage}
        self.assertTrue(all(s.day == 1 and s.hour == 0 for s in starts))  # whole months, from their first day

    def test_a_project_id_that_is_not_one_is_refused_on_the_form(self):
        with self.assertRaisesMessage(ValidationError, "is not an OpenAI project id"):
            self.connector(project_ids="proj_alpha; DROP")


class AnthropicAdminConnectorTest(_LlmConnectorTests, BaseTestCase):
    provider, kind = "anthropic", "anthropic_admin"
    key, wrong_key = "sk-ant-admin01-test-9b2e", "sk-ant-api03-regular-key-5678"

    def fill(self, scenario):
        scenario.usage = {day: anthropic_usage_result(n) for n, day in enumerate(_days(33), start=1)}
        scenario.costs = {day: anthropic_cost(n) for n, day in enumerate(_days(33), start=1)}

    def restated(self, day_number):
        return anthropic_usage_result(day_number, scale=2), anthropic_cost(day_number, scale=2)

    def test_it_sends_the_admin_key_and_api_version_and_groups_by_array(self):
        connector_run(connector=self.connector())
        usage, costs = self.scenario.answered("usage"), self.scenario.answered("costs")
        for request in usage + costs:
            self.assertEqual(request["headers"]["x-api-key"], self.key)
            self.assertEqual(request["headers"]["anthropic-version"], "2023-06-01")
            self.assertNotIn("authorization", request["headers"])
        groups = {"model", "workspace_id", "service_tier", "context_window"}
        self.assertEqual(set(usage[0]["query"]["group_by[]"]), groups)
        self.assertEqual(set(costs[0]["query"]["group_by[]"]), {"workspace_id", "description"})
        self.assertTrue(all(r["query"]["starting_at"][0].endswith("-01T00:00:00Z") for r in usage))


class ReportHelpersTest(BaseTestCase):
    def test_retry_after_reads_seconds_and_http_dates(self):
        now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC).timestamp()
        self.assertEqual(retry_after_seconds("3", now), 3.0)
        self.assertEqual(retry_after_seconds("0.5", now), 0.5)
        self.assertEqual(retry_after_seconds("Sun, 06 Dec 2026 12:00:30 GMT", now), 30.0)
        self.assertEqual(retry_after_seconds("Sun, 06 Dec 2026 11:00:00 GMT", now), 0.0)
        self.assertIsNone(retry_after_seconds("soon", now))
        self.assertIsNone(retry_after_seconds(None, now))

    def test_numbers_are_written_back_as_read(self):
        text = '[{"a":0.1000000000000000055511,"b":[1,2.50,"x"],"c":{"d":-3E+2},"e":"\\u0000q"}]'
        value = json.loads(text, parse_float=Decimal)
        self.assertEqual(json.loads(dumps_exact(value), parse_float=Decimal), value)
        self.assertIn(b"0.1000000000000000055511", dumps_exact(value))
        self.assertIn(b"2.50", dumps_exact(value))
