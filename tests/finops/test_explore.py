"""The cost explorer, as a user drives it through GET explore/ and explore/lines/ on the demo organisation: totals
that match the ledger, groups, filters (several values, "is empty"), two dimensions, the previous period, the bill
lines behind a group, CSV exports and cursor pages; and the tenancy every endpoint has."""

import csv
import importlib
import io
import json
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from unittest.mock import patch
from urllib.parse import urlencode

from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.test import SimpleTestCase
from django.urls import reverse
from django.utils import timezone

from finops.api import explore_line_json, json_value
from finops.explore_page import change_text
from finops.exports import csv_cell
from finops.models import ROLLUP_TOKENS, TOKEN_COLUMNS, Rollup, RollupDay, RollupLineRun, epoch_microseconds
from finops.selectors import explore
from finops.selectors.explore import DIMENSIONS, Cursor, ExploreError, explore_lines, explore_lines_all, explore_query
from finops.selectors.ledger import ledger_summary
from finops.serializers import ExploreGroupOutput, ExploreLinesOutput
from finops.services import rollups
from finops.services.rollups import named_runs, rollups_refresh
from ingest.models import CostLine, Upload
from ingest.services.days import dirty_days_mark
from ingest.services.deletions import upload_delete
from ingest.services.uploads import upload_create, upload_run
from tests.base import BaseTestCase, DemoTestCase
from tests.finops.test_worked_example import FOCUS_HEADER, iso
from tests.ingest.helpers import ApiClientMixin, csv_bytes

EXPLORE, LINES = "/api/v1/explore/", "/api/v1/explore/lines/"


class ExploreApiTests(ApiClientMixin, DemoTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        today = timezone.now().date()
        cls.start, cls.end = today - timedelta(days=28), today + timedelta(days=1)
        cls.period = {"start": cls.start.isoformat(), "end": cls.end.isoformat()}

    def setUp(self):
        self.make_keys()

    def get(self, path, status=200, **params):
        response = self.client.get(path, {**self.period, **params}, HTTP_AUTHORIZATION=f"Bearer {self.demo['api_key']}")
        self.assertEqual(response.status_code, status, getattr(response, "content", b"")[:400])
        return response

    def explore(self, **params) -> dict:
        return self.get(EXPLORE, **params).json()

    def test_it_totals_the_same_as_the_ledger_to_the_cent(self):
        summary = ledger_summary(org=self.demo_org, start=self.start, end=self.end)
        body = self.explore()
        self.assertEqual(Decimal(body["total"]), summary["billed_total"])
        self.assertEqual([Decimal(g["amount"]) for g in body["groups"]], [summary["billed_total"]])  # one group
        self.assertGreater(summary["billed_total"], 1000)
        self.assertEqual(
            (body["start"], body["end"], body["currency"]), (self.period["start"], self.period["end"], "USD")
        )

    def test_the_groups_by_provider_sum_to_the_total(self):
        body = self.explore(group_by="provider")
        providers = {g["provider"] for g in body["groups"]}
        self.assertTrue({"AWS", "Lambda", "(none)"} <= providers, providers)
        self.assertEqual(sum(Decimal(g["amount"]) for g in body["groups"]), Decimal(body["total"]))
        self.assertEqual(body["total"], self.explore()["total"])
        amounts = [Decimal(g["amount"]) for g in body["groups"]]
        self.assertEqual(amounts, sorted(amounts, reverse=True))

    def test_a_filter_of_two_values_keeps_only_their_cost(self):
        by_provider = {g["provider"]: Decimal(g["amount"]) for g in self.explore(group_by="provider")["groups"]}
        body = self.explore(provider="AWS,Lambda", group_by="provider")
        self.assertEqual({g["provider"] for g in body["groups"]}, {"AWS", "Lambda"})
        self.assertEqual(Decimal(body["total"]), by_provider["AWS"] + by_provider["Lambda"])
        self.assertEqual(body["filters"], {"provider": ["AWS", "Lambda"]})
        repeated = self.explore(provider=["AWS", "Lambda"])  # ?provider=AWS&provider=Lambda
        self.assertEqual((repeated["filters"], repeated["total"]), (body["filters"], body["total"]))

    def test_is_empty_finds_the_untagged_cost(self):
        by_customer = {g["customer"]: Decimal(g["amount"]) for g in self.explore(group_by="customer")["groups"]}
        untagged = self.explore(customer="(none)", group_by="customer")
        self.assertEqual([g["customer"] for g in untagged["groups"]], ["(none)"])
        self.assertEqual(Decimal(untagged["total"]), by_customer["(none)"])
        tagged = sum((a for c, a in by_customer.items() if c != "(none)"), Decimal(0))
        self.assertGreater(tagged, 0)
        self.assertEqual(Decimal(untagged["total"]) + tagged, Decimal(self.explore()["total"]))

    def test_origin_is_the_rollups_own_source_inside_each_source(self):
        body = self.explore(group_by="source,origin")
        origins = {(g["source"], g["origin"]) for g in body["groups"]}
        self.assertTrue({("unmeasured", "gpu_no_agent"), ("unattributed", "cloud_shared"), ("api_call", "api_calls")}
                        <= origins, origins)  # fmt: skip
        self.assertEqual(sum(Decimal(g["amount"]) for g in body["groups"]), Decimal(body["total"]))
        shared = self.explore(origin="cloud_shared,api_gap,no_rate", group_by="origin")
        summary = ledger_summary(org=self.demo_org, start=self.start, end=self.end)["by_source"]
        expected = sum((summary.get(name, Decimal(0)) for name in ("cloud_shared", "api_gap", "no_rate")), Decimal(0))
        self.assertEqual(Decimal(shared["total"]), expected)
        self.assertEqual(shared["filters"], {"origin": ["cloud_shared", "api_gap", "no_rate"]})

    def test_it_groups_by_two_dimensions(self):
        body = self.explore(group_by="host,source")
        self.assertTrue(all(set(g) >= {"host", "source", "amount"} for g in body["groups"]))
        sources = {g["source"] for g in body["groups"]}
        self.assertTrue({"bill_line", "gpu_time", "idle", "unmeasured", "unattributed", "api_call"} >= sources)
        self.assertIn("idle", sources)
        self.assertEqual(sum(Decimal(g["amount"]) for g in body["groups"]), Decimal(body["total"]))
        by_host = {g["host"]: Decimal(g["amount"]) for g in self.explore(group_by="host")["groups"]}
        host = next(h for h in by_host if h != "(none)")
        self.assertEqual(sum(Decimal(g["amount"]) for g in body["groups"] if g["host"] == host), by_host[host])

    def test_it_compares_with_the_previous_period_of_the_same_length(self):
        today = timezone.now().date()
        monday = today - timedelta(days=today.weekday() + 7)
        week = {"start": monday.isoformat(), "end": (monday + timedelta(days=7)).isoformat()}
        before = {"start": (monday - timedelta(days=7)).isoformat(), "end": monday.isoformat()}
        body = self.explore(**week, group_by="provider")
        earlier = {g["provider"]: g["amount"] for g in self.explore(**before, group_by="provider")["groups"]}
        self.assertEqual((body["previous_start"], body["previous_end"]), (before["start"], before["end"]))
        self.assertEqual(body["previous_total"], self.explore(**before)["total"])
        aws = next(g for g in body["groups"] if g["provider"] == "AWS")
        self.assertEqual(aws["previous"], earlier["AWS"])
        expected = (Decimal(aws["amount"]) - Decimal(aws["previous"])) / Decimal(aws["previous"])
        self.assertAlmostEqual(Decimal(aws["change"]), expected, places=8)
        first = self.explore(
            start=(today - timedelta(days=400)).isoformat(), end=(today - timedelta(days=300)).isoformat()
        )
        self.assertEqual(
            (first["total"], first["previous_total"], first["change"], first["groups"]), (None, None, None, [])
        )

    def lines(self, **params) -> list[dict]:
        """Every line of the filters, page after page."""
        found, cursor = [], None
        for _ in range(200):
            page = self.get(LINES, **params, **({"cursor": cursor} if cursor else {})).json()
            found += page["lines"]
            cursor = page["next"]
            if cursor is None:
                return found
        self.fail("the cursor never ended")

    def test_the_bill_lines_of_a_group_sum_to_its_amount(self):
        group = self.explore(provider="AWS", source="bill_line")
        lines = self.lines(provider="AWS", source="bill_line", limit=1000)
        self.assertGreater(len(lines), 100)
        self.assertEqual({line["kind"] for line in lines}, {"bill_line"})
        self.assertEqual(sum(Decimal(line["amount"]) for line in lines), Decimal(group["total"]))
        line = lines[0]
        self.assertIsNotNone(line["upload"])
        self.assertGreaterEqual(line["source_row"], 2)

    def test_the_cursor_returns_every_row_once(self):
        # A week, so that every row fits in one page of the largest size whatever the hour the demo was built.
        week = {"start": (self.end - timedelta(days=8)).isoformat(), "end": self.period["end"]}
        params = {"host": "infer-a100-01", "limit": 7, **week}
        small_pages = self.lines(**params)
        one_page = self.get(LINES, **{**params, "limit": 1000}).json()
        self.assertIsNone(one_page["next"])
        self.assertGreater(len(small_pages), 7)
        self.assertEqual([(r["kind"], r["id"]) for r in small_pages], [(r["kind"], r["id"]) for r in one_page["lines"]])
        self.assertEqual(len({(r["kind"], r["id"]) for r in small_pages}), len(small_pages))
        self.assertEqual({r["kind"] for r in small_pages}, {"bill_line", "gpu_hour"})

    def test_pages_of_bill_lines_are_every_line_of_the_period_in_order(self):
        # Pages read the rollups of a few days at a time; together they are exactly the lines the whole period's
        # rollups name, in order, each once.
        # Both ways of joining a window's ids to its lines (looked up by key, or hashed past LOOKUPS_UP_TO ids).
        for filters, lookups_up_to in (({"source": "bill_line"}, 20_000), ({"source": "bill_line"}, 0),
                                       ({"provider": "AWS,Lambda"}, 0), ({"host": "infer-a100-01"}, 0)):  # fmt: skip
            period = {"org": self.demo_org, "start": self.start, "end": self.end, "query": explore_query(filters)}
            every = [(line["at"], line["id"]) for line in explore_lines_all(**period) if line["kind"] == "bill_line"]
            paged, cursor = [], None
            with self.subTest(filters=str(filters), lookups_up_to=lookups_up_to), \
                    patch.object(explore, "LOOKUPS_UP_TO", lookups_up_to):  # fmt: skip
                while True:
                    page = explore_lines(**period, cursor=cursor, limit=397)
                    paged += [(line["at"], line["id"]) for line in page["lines"] if line["kind"] == "bill_line"]
                    if page["next"] is None:
                        break
                    cursor = Cursor.decode(page["next"])
                self.assertEqual(paged, sorted(every))
                self.assertGreater(len(paged), 397 if "host" not in filters else 20)

    def test_a_page_renders_as_its_serializer_declares(self):
        # The page is written out without the serializer (explore_line_json); the OpenAPI schema's serializer is the
        # oracle, over pages that hold every kind of row.
        for params in ({"limit": 1000}, {"host": "infer-a100-01", "limit": 1000}, {"source": "api_call"}):
            body = self.get(LINES, **params).json()
            declared = ExploreLinesOutput({**body, "lines": [
                {**line, "at": datetime.fromisoformat(line["at"]), "day": date.fromisoformat(line["day"])}
                for line in body["lines"]]}).data  # fmt: skip
            self.assertEqual(json.dumps(body), json.dumps(declared))
        period = {"org": self.demo_org, "start": self.start, "end": self.end, "limit": 1000}
        direct = [line for params in ({}, {"host": "infer-a100-01"}, {"source": "api_call"})
                  for line in explore_lines(**period, query=explore_query(params))["lines"]]  # fmt: skip
        self.assertEqual({line["kind"] for line in direct}, {"bill_line", "usage_event", "gpu_hour"})
        declared = ExploreLinesOutput({"start": self.start, "end": self.end, "partial": True, "next": None,
                                       "lines": json_value(direct)}).data["lines"]  # fmt: skip
        self.assertEqual(json.dumps([explore_line_json(line) for line in direct]), json.dumps(declared))

    def test_services_and_resources_are_the_bill_lines(self):
        # Grouped by service, a provider's bill-line cost is its lines' services; a resource's lines are its own.
        body = self.explore(group_by="service", provider="AWS", source="bill_line")
        services = {g["service"]: Decimal(g["amount"]) for g in body["groups"]}
        lines = self.lines(provider="AWS", source="bill_line", limit=1000)
        self.assertEqual(set(services), {line["service"] or "(none)" for line in lines})
        self.assertGreater(len(services), 1)
        self.assertEqual(sum(services.values()), Decimal(body["total"]))
        by_resource = self.explore(group_by="resource", source="bill_line")["groups"]
        resource = max((g for g in by_resource if g["resource"] != "(none)"), key=lambda g: Decimal(g["amount"]))
        its_lines = self.lines(resource=resource["resource"], source="bill_line", limit=1000)
        self.assertTrue(its_lines)
        self.assertEqual({line["resource"] for line in its_lines}, {resource["resource"]})
        two = self.explore(group_by="provider,service")
        self.assertEqual(sum(Decimal(g["amount"]) for g in two["groups"]), Decimal(two["total"]))

    def test_the_calls_of_a_customer_are_listed(self):
        lines = self.lines(source="api_call", customer="cust-003", limit=1000)
        self.assertTrue(lines)
        self.assertEqual({(r["kind"], r["customer"]) for r in lines}, {("usage_event", "cust-003")})
        by_plan = self.explore(source="api_call", group_by="plan")["groups"]
        plan = next(g["plan"] for g in by_plan if g["plan"] != "(none)")
        self.assertTrue(self.lines(source="api_call", plan=plan, limit=1000))  # matched through the rollup rows

    def test_pages_of_calls_are_every_call_of_the_filter_in_order(self):
        # Calls matched through the rollup rows (plan, bucket, label) are read a window of days at a time, windows
        # doubling; a customer's calls in one read. Together the pages are exactly the filter's calls, in order.
        plans = [g["plan"] for g in self.explore(source="api_call", group_by="plan")["groups"] if g["plan"] != "(none)"]
        rare = min(plans, key=lambda plan: Decimal(self.explore(source="api_call", plan=plan)["total"]))
        feature = next(g["feature"] for g in self.explore(source="api_call", group_by="feature")["groups"])
        for filters in ({"plan": rare}, {"bucket": "retries"}, {"label": "customer_value", "feature": feature},
                        {"customer": "cust-003"}, {"plan": rare, "customer": "(none)"}):  # fmt: skip
            period = {"org": self.demo_org, "start": self.start, "end": self.end, "query": explore_query(filters)}
            every = sorted((line["at"], line["id"]) for line in explore_lines_all(**period)
                           if line["kind"] == "usage_event")  # fmt: skip
            for limit in (max(9, len(every) // 7), 100):  # several pages each, a few windows each
                with self.subTest(filters=str(filters), limit=limit):
                    calls = [(at, pk) for at, kind, pk in all_pages(period, limit) if kind == "usage_event"]
                    self.assertEqual(calls, every)
            if "(none)" not in filters.values():
                self.assertGreater(len(every), 100, filters)

    def test_a_narrow_filter_reads_its_rollup_rows_through_the_tokens_index(self):
        if connection.vendor != "postgresql":
            self.skipTest("the tokens index is PostgreSQL's (the embedded default reads a period at once)")
        narrow = explore_query({"host": "infer-a100-01", "customer": "cust-003,(none)"})
        rows = explore._rollups(org=self.demo_org, start=self.start, end=self.end, query=narrow)
        sql, params = rows.values("day").query.sql_with_params()
        with transaction.atomic(), connection.cursor() as cursor:
            # Whether the index matches the filter's expression, whatever this small table's statistics make of
            # it: with the day index gone (until the rollback) and no whole-table read, it is the tokens index or
            # a whole-table read after all.
            cursor.execute("DROP INDEX rollup_org_day")
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(line for (line,) in cursor.fetchall())
            transaction.set_rollback(True)
        self.assertIn("rollup_org_tokens", plan)
        # A filter names only tokens the rows hold (a column missing from them would match no row at all).
        hinted = [name for name in DIMENSIONS if name not in explore.BROAD and name != "source"]
        self.assertEqual([n for n in hinted if DIMENSIONS[n] not in TOKEN_COLUMNS], [])
        kinds = {column for pairs in explore.SOURCE_KIND_TOKENS.values() for column, _ in pairs}
        self.assertLessEqual(kinds, set(TOKEN_COLUMNS))
        migration = importlib.import_module("finops.migrations.0014_rollup_explorer_reads")
        self.assertEqual(migration.TOKENS, ROLLUP_TOKENS)  # the index's expression is the one the filters name
        broad = explore._rollups(
            org=self.demo_org, start=self.start, end=self.end, query=explore_query({"bucket": "inference"})
        )
        self.assertNotIn("ARRAY[", str(broad.query))  # a value most rows hold is read by day

    def read_csv(self, response) -> list[list[str]]:
        self.assertTrue(response["Content-Type"].startswith("text/csv"))
        return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))

    def test_the_csv_of_groups_sums_to_the_json_total(self):
        body = self.explore(group_by="provider,source")
        rows = self.read_csv(self.get(EXPLORE, group_by="provider,source", format="csv"))
        self.assertEqual(rows[0], ["provider", "source", "amount", "previous", "change", "currency"])
        *groups, total = rows[1:]
        self.assertEqual(len(groups), len(body["groups"]))
        self.assertEqual(sum(Decimal(r[2]) for r in groups), Decimal(body["total"]))
        self.assertEqual((total[0], Decimal(total[2])), ("Total", Decimal(body["total"])))

    def test_the_csv_of_lines_has_every_line_and_the_total(self):
        lines = self.lines(provider="Lambda", source="bill_line", limit=1000)
        rows = self.read_csv(self.get(LINES, provider="Lambda", source="bill_line", format="csv"))
        *body, total = rows[1:]
        self.assertEqual(len(body), len(lines))
        self.assertEqual(Decimal(total[3]), sum(Decimal(r["amount"]) for r in lines))

    def test_it_refuses_unknown_dimensions_and_more_than_two(self):
        cases = [({"group_by": "colour"}, "group_by", "Unknown dimension 'colour'"),
                 ({"group_by": "provider,host,customer"}, "group_by", "one or two dimensions, not 3"),
                 ({"source": "magic"}, "source", "Unknown source 'magic'"),
                 ({"customer": "a\x00b"}, "customer", "NUL"),
                 ({"cursor": "nope"}, "cursor", "Unknown cursor")]  # fmt: skip
        for params, field, message in cases:
            with self.subTest(params=params):
                path = LINES if "cursor" in params else EXPLORE
                body = self.get(path, status=400, **params).json()
                self.assertIn(message, body[field][0])
        self.assertIn("period", self.get(EXPLORE, status=400, start="2026-11-09", end="2026-11-02").json())

    def test_it_hides_other_orgs(self):
        for path in (EXPLORE, LINES):
            with self.subTest(path=path):
                other = self.client.get(
                    path, {"org": self.demo_org.code}, HTTP_AUTHORIZATION=f"Bearer {self.charlie_key}"
                )
                self.assertEqual(other.status_code, 404)
                mine = self.client.get(path, self.period, HTTP_AUTHORIZATION=f"Bearer {self.charlie_key}").json()
                self.assertEqual(mine.get("groups", mine.get("lines")), [])
                self.assertEqual(self.client.get(path).status_code, 401)

    def test_a_viewer_reads_it_with_a_session(self):
        self.client.force_login(self.bob)
        response = self.client.get(EXPLORE, {**self.period, "org": self.demo_org.code})
        self.assertEqual(response.status_code, 200, response.content[:300])
        self.assertEqual(response.json()["total"], self.explore()["total"])


class ExploreUnitTests(SimpleTestCase):
    def test_a_change_reads_as_a_percentage(self):
        cases = [(None, "—"), (Decimal("0.0001"), "0%"), (Decimal("-0.034"), "-3.4%"), (Decimal("0.25"), "+25%")]
        self.assertEqual([change_text(c) for c, _ in cases], [text for _, text in cases])

    def test_a_formula_cell_is_escaped(self):
        for text in ("=HYPERLINK(1)", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"):
            self.assertEqual(csv_cell(text), "'" + text)
        self.assertEqual(csv_cell("acme"), "acme")
        self.assertEqual(csv_cell(Decimal("-1.5")), "-1.5000000000")  # a number is not text
        self.assertEqual(csv_cell(None), "")

    def test_the_query_reads_lists_and_empty(self):
        query = explore_query({"group_by": "host, provider", "customer": "acme,(none)"})
        self.assertEqual(query.group_by, ("host", "provider"))
        self.assertEqual(query.filters, {"customer": ("acme", "")})
        with self.assertRaises(ExploreError):
            explore_query({"group_by": "host,host"})


class ExploreSchemaTests(SimpleTestCase):
    def test_a_group_can_carry_every_dimension(self):
        self.assertLessEqual(set(DIMENSIONS), set(ExploreGroupOutput().fields))


class ExploreLinesOverSeveralDaysTests(ApiClientMixin, BaseTestCase):
    """Pages of bill lines when lines run over several days, from before the period, and days hold none."""

    def test_every_line_once_in_order_whatever_the_page_size(self):
        self.make_keys()
        at = datetime(2026, 10, 1, tzinfo=UTC)
        spans = [(at + timedelta(days=d, hours=h), timedelta(hours=1)) for d in (2, 3, 9, 16, 17) for h in (1, 5, 9)]
        spans += [(at, timedelta(days=31)), (at - timedelta(days=6), timedelta(days=10)), (at + timedelta(days=7),
                  timedelta(days=3)), (at + timedelta(days=12, hours=23), timedelta(hours=2))]  # fmt: skip
        rows = [FOCUS_HEADER] + [["acct", "AWS", "USD", "2026-10-01T00:00:00Z", iso(begin), iso(begin + length),
                                  "Usage", f"{i + 1}.00", f"{i + 1}.00", f"i-{i}", "m5.large", "{}"]
                                 for i, (begin, length) in enumerate(spans)]  # fmt: skip
        self.assertEqual(self.api_upload("focus.csv", csv_bytes(rows)).status_code, 201)
        rollups_refresh(org=self.org)
        start, end = date(2026, 10, 5), date(2026, 10, 20)
        period = {"org": self.org, "start": start, "end": end, "query": explore_query({})}
        every = sorted((line["at"], line["id"]) for line in explore_lines_all(**period))
        # in the period: the 12 hourly lines of days 9, 16, 17 and 3 (on the 4th), the month, the line from
        # September (it runs to the 5th: not in), the three days from the 8th, and the line over the 13th's midnight
        self.assertEqual(len(every), 9 + 1 + 1 + 1)
        for limit in (1, 2, 5, 100):
            paged, cursor = [], None
            for _ in range(len(every) + 1):
                page = explore_lines(**period, cursor=cursor, limit=limit)
                paged += [(line["at"], line["id"]) for line in page["lines"]]
                if page["next"] is None:
                    break
                cursor = Cursor.decode(page["next"])
            self.assertEqual(paged, every, f"pages of {limit}")


def all_pages(period: dict, limit: int) -> list[tuple]:
    """(moment, kind, id) of every line of `period`, page after page of `limit`."""
    paged, cursor = [], None
    while True:
        page = explore_lines(**period, cursor=cursor, limit=limit)
        paged += [(line["at"], line["kind"], line["id"]) for line in page["lines"]]
        if page["next"] is None:
            return paged
        cursor = Cursor.decode(page["next"])


def runs_sql(size: int) -> str:
    """The rollup's statement of a day's runs, cutting runs of `size` lines."""
    return rollups.NAMED_RUNS.replace(f"n / {RollupLineRun.RUN_SIZE}", f"n / {size}")


class ExploreNamedLinesTests(ApiClientMixin, BaseTestCase):
    """Unfiltered pages read the lines the rollups name from RollupLineRun in page order: on generated bills (hours,
    days, months, lines over midnight and from before the period, another currency, another org's lines), they are
    exactly the lines the period's rollup rows name, whatever the period and page size."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        rng = random.Random(17)
        at = datetime(2026, 9, 1, tzinfo=UTC)
        lengths = [timedelta(hours=1), timedelta(hours=7), timedelta(days=1), timedelta(days=3), timedelta(days=30)]
        rows = []
        for i in range(240):
            begin = at + timedelta(days=rng.randrange(40), hours=rng.randrange(24), minutes=rng.choice((0, 30)))
            account, currency = ("acct-eu", "EUR") if i % 9 == 0 else ("acct", "USD")
            end = begin + rng.choice(lengths)
            rows.append([account, "AWS", currency, "2026-09-01T00:00:00Z", iso(begin), iso(end), "Usage",
                         f"{rng.randrange(1, 9000) / 100:.2f}", "0", f"i-{i % 23}", "m5.large", "{}"])  # fmt: skip
        other = [[*row[:9], "i-charlie", *row[10:]] for row in rows[:60] if row[2] == "USD"]
        bills = [(cls.org, "USD.csv", [row for row in rows if row[2] == "USD"]),
                 (cls.org, "EUR.csv", [row for row in rows if row[2] == "EUR"]),
                 (cls.charlies_org, "focus.csv", other)]  # fmt: skip
        for org, name, lines in bills:
            file = ContentFile(csv_bytes([FOCUS_HEADER, *lines]), name=name)
            upload = upload_create(org=org, file=file, kind="bill", enqueue=False)
            assert upload_run(upload_id=upload.pk).status == Upload.Status.DONE
        rollups_refresh(org=cls.org)
        rollups_refresh(org=cls.charlies_org)

    def setUp(self):
        self.make_keys()
        self.assertEqual(CostLine.objects.for_org(self.org).count(), 240)

    def expanded(self, start, end) -> list[tuple]:
        """The lines the period's rollup rows in the org's currency name, by expanding every row's ids."""
        ids = {i for ids in Rollup.objects.for_org(self.org).filter(day__gte=start, day__lt=end, currency="USD")
               .values_list("cost_line_ids", flat=True) for i in ids}  # fmt: skip
        lines = CostLine.objects.for_org(self.org).filter(id__in=ids).values_list("charge_period_start", "id")
        return sorted((at, "bill_line", pk) for at, pk in lines)

    def test_each_day_keeps_the_lines_of_its_rollup_rows_in_runs_in_page_order(self):
        rows = Rollup.objects.for_org(self.org).values_list("day", "currency", "cost_line_ids")
        expected = {(day, currency, i) for day, currency, ids in rows for i in ids}
        runs = list(RollupLineRun.objects.for_org(self.org).order_by("day", "currency", "started_before", "last_at"))
        held = [(run.day, run.currency, run.started_before, key) for run in runs for key in run.lines]
        self.assertEqual({(day, currency, i) for day, currency, _, (_, i) in held}, expected)
        self.assertEqual(len(held), len(expected))
        self.assertIn("EUR", {currency for _, currency, _ in expected})
        starts = dict(CostLine.objects.for_org(self.org).values_list("id", "charge_period_start"))
        for day, _, before, (at, line_id) in held:
            self.assertEqual(at, epoch_microseconds(starts[line_id]))
            self.assertEqual(before, starts[line_id].date() < day)
        self.assertTrue(any(before for _, _, before, _ in held))
        for run in runs:
            self.assertEqual(run.lines, sorted(run.lines))
            self.assertEqual((epoch_microseconds(run.last_at), run.last_line_id), tuple(run.lines[-1]))
            self.assertEqual(run.size, len(run.lines))

    def test_the_sql_runs_are_the_python_runs(self):
        sql = runs_sql(7)
        self.assertNotEqual(sql, rollups.NAMED_RUNS)
        with patch.object(RollupLineRun, "RUN_SIZE", 7), patch.object(rollups, "NAMED_RUNS", sql):
            RollupDay.objects.for_org(self.org).delete()
            dirty_days_mark(org=self.org, days=set(Rollup.objects.for_org(self.org).values_list("day", flat=True)))
            rollups_refresh(org=self.org)
            fields = ("day", "currency", "started_before", "last_at", "last_line_id", "size", "lines")
            stored = sorted(RollupLineRun.objects.for_org(self.org).values_list(*fields))
            days = sorted({day for day, *_ in stored})
            oracle = sorted(tuple(getattr(run, f) for f in fields) for d in days for run in named_runs(self.org, d))
            self.assertEqual(stored, oracle)
            self.assertGreater(len(stored), len(days) * 2)
            period = {"org": self.org, "start": date(2026, 9, 1), "end": date(2026, 10, 15), "query": explore_query({})}
            for limit in (1, 6, 7, 8, 50):
                with self.subTest(limit=limit):
                    self.assertEqual(all_pages(period, limit), self.expanded(date(2026, 9, 1), date(2026, 10, 15)))

    def test_every_period_and_page_size_lists_exactly_the_named_lines(self):
        rng = random.Random(4)
        periods = [(date(2026, 9, 1), date(2026, 10, 15)), (date(2026, 9, 14), date(2026, 9, 21))]
        periods += [(date(2026, 9, 1) + timedelta(days=d), date(2026, 9, 1) + timedelta(days=d + n))
                    for d, n in ((rng.randrange(40), rng.randrange(1, 12)) for _ in range(6))]  # fmt: skip
        for start, end in periods:
            period = {"org": self.org, "start": start, "end": end, "query": explore_query({})}
            expected = self.expanded(start, end)
            self.assertTrue(expected, f"{start} to {end} names no line")
            for limit in (1, 3, 17, 1000):
                with self.subTest(start=start, end=end, limit=limit):
                    self.assertEqual(all_pages(period, limit), expected)
            exported = sorted((line["at"], line["kind"], line["id"]) for line in explore_lines_all(**period))
            self.assertEqual(exported, expected)

    def test_a_recompute_that_names_the_same_lines_keeps_the_runs_and_new_lines_replace_them(self):
        if connection.vendor != "postgresql":
            self.skipTest("the embedded default writes a day's runs every time (the digest is PostgreSQL's)")
        day = date(2026, 9, 10)
        runs = RollupLineRun.objects.for_org(self.org).filter(day=day)
        held = set(runs.values_list("id", flat=True))
        self.assertTrue(held)
        dirty_days_mark(org=self.org, days={day})
        self.assertEqual(rollups_refresh(org=self.org), [day])
        self.assertEqual(set(runs.values_list("id", flat=True)), held)
        at = datetime(2026, 9, 10, 5, tzinfo=UTC)
        more = [["acct-2", "AWS", "USD", "2026-09-01T00:00:00Z", iso(at), iso(at + timedelta(hours=1)), "Usage", "1.00",
                 "1.00", "i-new", "m5.large", "{}"]]  # fmt: skip
        self.assertEqual(self.api_upload("more.csv", csv_bytes([FOCUS_HEADER, *more])).status_code, 201)
        rollups_refresh(org=self.org)
        self.assertFalse(held & set(runs.values_list("id", flat=True)))
        new_line = CostLine.objects.for_org(self.org).get(resource_id="i-new").pk
        self.assertIn(new_line, {i for lines in runs.values_list("lines", flat=True) for _, i in lines})
        period = {"org": self.org, "start": day, "end": day + timedelta(days=1), "query": explore_query({})}
        self.assertEqual(all_pages(period, 5), self.expanded(day, day + timedelta(days=1)))

    def test_a_deleted_bill_leaves_no_named_line(self):
        for upload in Upload.objects.for_org(self.org):
            upload_delete(org=self.org, upload=upload)
        rollups_refresh(org=self.org)
        self.assertFalse(RollupLineRun.objects.for_org(self.org).exists())
        period = {"org": self.org, "start": date(2026, 9, 1), "end": date(2026, 10, 15), "query": explore_query({})}
        self.assertEqual(explore_lines(**period)["lines"], [])
        self.assertTrue(RollupLineRun.objects.for_org(self.charlies_org).exists())


class ExploreCsvEscapeTests(ApiClientMixin, BaseTestCase):
    def setUp(self):
        self.make_keys()

    def test_a_cell_that_looks_like_a_formula_is_escaped(self):
        at = (timezone.now() - timedelta(days=2)).replace(microsecond=0).isoformat()
        events = [{"event_id": f"e{i}", "timestamp": at, "provider": "openai", "model": "gpt-4o-mini",
                   "customer": "=HYPERLINK(\"http://x\")", "input_tokens": 1000, "output_tokens": 10,
                   "cost": "0.50", "currency": "USD"} for i in range(2)]  # fmt: skip
        self.post_events(events, key=self.write_key)
        rollups_refresh(org=self.org)
        params = {"start": (timezone.now() - timedelta(days=7)).date().isoformat(), "group_by": "customer"}
        body = self.api_get(f"{EXPLORE}?{urlencode(params)}").json()
        self.assertEqual([(g["customer"], g["amount"]) for g in body["groups"]],
                         [('=HYPERLINK("http://x")', "1.0000000000")])  # fmt: skip
        response = self.api_get(f"{EXPLORE}?{urlencode({**params, 'format': 'csv'})}")
        rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
        self.assertEqual(rows[1][:2], ['\'=HYPERLINK("http://x")', "1.0000000000"])
        response = self.api_get(f"{LINES}?{urlencode({**params, 'format': 'csv'})}")
        rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
        self.assertEqual({r[9] for r in rows[1:-1]}, {'\'=HYPERLINK("http://x")'})


class ExplorePageTests(DemoTestCase):
    """The page reads the same selectors as the API: its figures are the API's, and its URL holds its state."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        today = timezone.now().date()
        cls.period = {"start": (today - timedelta(days=14)).isoformat(), "end": today.isoformat()}

    def setUp(self):
        self.client.force_login(self.bob)

    def page(self, status=200, **params):
        response = self.client.get(reverse("finops-explore", kwargs={"org_code": self.demo_org.code}),
                                   {**self.period, **params})  # fmt: skip
        self.assertEqual(response.status_code, status)
        return response

    def api(self, path, **params):
        auth = f"Bearer {self.demo['api_key']}"
        return self.client.get(path, {**self.period, **params}, HTTP_AUTHORIZATION=auth).json()

    def test_it_shows_the_apis_groups_and_total(self):
        page = self.page(group_by="host")
        body = self.api(EXPLORE, group_by="host")
        self.assertEqual(page.context["result"]["total"], Decimal(body["total"]))
        self.assertEqual([g["host"] for g in page.context["groups"]], [g["host"] for g in body["groups"]])
        self.assertContains(page, 'id="chart-explore"')
        self.assertContains(page, 'id="explore-figure"')

    def test_a_row_drills_down_to_its_bill_lines(self):
        page = self.page(group_by="host")
        group = next(g for g in page.context["groups"] if g["host"] == "aws-gpu-0000")
        self.assertIn("host=aws-gpu-0000", group["drill_url"])
        self.assertIn("show=lines", group["drill_url"])
        lines = self.client.get(reverse("finops-explore", kwargs={"org_code": self.demo_org.code}) + group["drill_url"])
        self.assertContains(lines, 'id="explore-lines"')
        upload = lines.context["lines"]["lines"][0]["upload"]
        self.assertContains(lines, reverse("ingest-upload", kwargs={"org_code": self.demo_org.code, "code": upload}))

    def test_it_sorts_by_a_column_and_keeps_it_in_the_url(self):
        page = self.page(group_by="host", sort="host")
        hosts = [g["host"] for g in page.context["groups"]]
        self.assertEqual(hosts, sorted(hosts))
        self.assertContains(page, "sort=-host")

    def test_its_csv_is_the_table(self):
        response = self.page(group_by="provider", format="csv")
        rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
        body = self.api(EXPLORE, group_by="provider")
        self.assertEqual(rows[-1][:2], ["Total", body["total"]])

    def test_an_unknown_dimension_is_400_with_the_reason(self):
        page = self.page(status=400, group_by="colour")
        self.assertContains(page, "Unknown dimension", status_code=400)

    def test_the_add_filter_form_puts_the_filter_in_the_url(self):
        response = self.page(status=302, group_by="customer", add_dimension="customer", add_value="")
        self.assertIn("customer=%28none%29", response["Location"])
        self.assertNotIn("add_dimension", response["Location"])
