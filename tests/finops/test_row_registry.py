"""The Founder Table registry (finops/economics/rows): every row declares its words, the thresholds its rule reads
and the figures it measures with their units; keys are unique; and a row registered beside the ten is judged,
shown and configurable with no other change."""

from decimal import Decimal as D
from unittest import mock

from django.test import SimpleTestCase

from finops.economics import rows
from finops.economics.facts import PeriodFacts, RouteFacts, RunFacts
from finops.economics.metrics import METRIC_KEYS, METRIC_UNITS
from finops.economics.rows import ROWS, Figure, Row, Threshold, Unit
from finops.economics.rows.base import offender
from finops.economics.rules import DEFAULT_THRESHOLDS, THRESHOLD_HELP, founder_table, thresholds_with_defaults
from finops.forms import EconomicsSettingsForm
from finops.founder_table import metric_display
from finops.models import EconomicsSettings
from finops.templatetags.money_tags import figures, measure
from tests.finops.test_founder_rules import facts, host


def varied_facts() -> list[PeriodFacts]:
    """Periods that take each rule down its branches: nothing connected, no revenue, revenue and prices, and a
    period where every row fires."""
    customers = (
        ("acme", "pro", D("30")),
        ("beta", "pro", D("40")),
        ("t1", "trial", D("30")),
        ("s1", "starter", D("9")),
    )
    routes = (RouteFacts("chat", "big", 95, D("95"), 950), RouteFacts("chat", "small", 5, D("0.05"), 50))
    everything = dict(
        billed_total=D("1000"),
        unattributed=D("200"),
        untagged_allocated=D("50"),
        customer_cost=customers,
        revenue={"acme": D("20"), "beta": D("50"), "s1": D("10")},
        revenue_plans={"gamma": "pro"},
        plan_prices={"starter": D("10"), "pro": D("50"), "team": D("100")},
        target_margin=D("0.6"),
        completed_jobs=4,
        failed_jobs=1,
        job_attempts=7,
        job_cost=D("10"),
        hosts=(host(idle="40", zombie=3 * 3600), host("gpu-2", idle="0", unmeasured="60", agent=False)),
        runs=(RunFacts("run-a", "training", D("80"), D(7200), approved=False),),
        routes=routes,
        deferrable_realtime_cost=D("150"),
        deferrable_by_feature=(("embed", D("150")),),
        releases=(("v1", D("0")),),
        unevaluated_models=(("chat", "big", D("12")),),
        commitments=(("ri-1", D("10"), D("90")),),
        promised=(("dedicated", D("100"), D("40")),),
        plan_premium=(("starter", 40, 100, D("22")), ("pro", 90, 100, D("300"))),
    )
    return [
        facts(),
        facts(customer_cost=customers, completed_jobs=2, job_cost=D("4"), routes=routes, hosts=(host(),)),
        facts(**everything),
        facts(**{**everything, "revenue": None, "plan_prices": None, "hosts": (host(agent=False, unmeasured="9"),)}),
    ]


def declared_only(row: Row) -> dict:
    """A thresholds dict holding the row's own declared thresholds and nothing else: reading another is a KeyError."""
    return {threshold.key: threshold.default for threshold in row.thresholds}


class RegistryTests(SimpleTestCase):
    def test_it_declares_each_rows_words(self):
        for row in ROWS:
            with self.subTest(row=row.key):
                for text in (row.title, row.measures, row.founder_move, row.fires_when):
                    self.assertIsInstance(text, str)
                    self.assertTrue(text.strip())
                self.assertTrue(row.offender_kinds)

    def test_its_keys_are_unique(self):
        keys = [row.key for row in ROWS]
        self.assertEqual(len(keys), len(set(keys)))
        threshold_keys = [t.key for row in ROWS for t in row.thresholds]
        self.assertEqual(len(threshold_keys), len(set(threshold_keys)))
        units = {}
        for row in ROWS:
            figure_keys = [f.key for f in row.figures]
            self.assertEqual(len(figure_keys), len(set(figure_keys)), row.key)
            for figure in row.figures:
                # a key reads the same in every row (the page's `measure` looks a key's unit up by its name)
                self.assertEqual(units.setdefault(figure.key, figure.unit), figure.unit, figure.key)

    def test_each_rule_reads_only_its_declared_thresholds(self):
        for row in ROWS:
            for n, period in enumerate(varied_facts()):
                with self.subTest(row=row.key, facts=n):
                    try:
                        row.judge(period, declared_only(row))
                    except KeyError as error:  # pragma: no cover - the failure this test is for
                        self.fail(f"{row.key} reads the threshold {error} it does not declare")

    def test_each_rule_returns_exactly_its_declared_figures_and_offender_kinds(self):
        for row in ROWS:
            for n, period in enumerate(varied_facts()):
                with self.subTest(row=row.key, facts=n):
                    result = row.judge(period, declared_only(row))
                    self.assertEqual(list(result["measured"]), [f.key for f in row.figures])
                    self.assertLessEqual({o["kind"] for o in result.get("offenders", [])}, set(row.offender_kinds))
                    self.assertLessEqual(set(result) - {"measured", "stop_sign", "offenders", "note"}, set(row.extras))

    def test_the_varied_facts_make_every_row_fire(self):
        fired = {r.key for r in founder_table(varied_facts()[2]) if r.stop_sign}
        self.assertEqual(fired, {row.key for row in ROWS})

    def test_units_and_defaults_are_declared(self):
        for row in ROWS:
            for threshold in row.thresholds:
                self.assertIsInstance(threshold.unit, Unit)
                self.assertIsInstance(threshold.default, D)
                self.assertTrue(threshold.help.strip())
            for figure in row.figures:
                self.assertIsInstance(figure.unit, Unit)
        self.assertEqual(DEFAULT_THRESHOLDS, rows.default_thresholds())
        self.assertEqual(list(THRESHOLD_HELP), list(DEFAULT_THRESHOLDS))

    def test_the_engine_carries_each_figures_unit(self):
        for result in founder_table(varied_facts()[2]):
            self.assertEqual(result.units, rows.row_by_key(result.key).units)

    def test_a_name_that_is_not_a_unit_is_an_error_not_a_guess(self):
        with self.assertRaises(ValueError):
            measure(D("1"), "mystery_cost,USD")
        self.assertEqual(measure(D("0.25"), "share"), "25%")
        self.assertEqual(measure(D("1234.5"), "money,EUR"), "€1,234.50")

    def test_every_weekly_metric_declares_its_unit(self):
        self.assertEqual(set(METRIC_UNITS), set(METRIC_KEYS))
        self.assertTrue(all(isinstance(unit, Unit) for unit in METRIC_UNITS.values()))
        with self.assertRaises(KeyError):
            metric_display({"key": "new_metric", "value": D("1"), "previous": None, "change": None}, "USD")


def reserved_gpus(f: PeriodFacts, t: dict) -> dict:
    hours = D(sum(h.paid_gpu_seconds for h in f.hosts)) / 3600
    fires = hours > t["reserved_gpu_hours"]
    return {
        "measured": {"reserved_hours": hours, "reserved_cost": sum((h.paid_cost for h in f.hosts), D(0))},
        "stop_sign": fires,
        "offenders": [offender("host", h.host, h.host, h.paid_cost, "reserved and paid") for h in f.hosts]
        if fires
        else [],
    }


ELEVENTH = Row(
    key="reserved_gpus",
    title="Reserved GPUs",
    measures="Reserved GPU hours",
    founder_move="Reserve only what runs every day",
    fires_when="More GPU hours reserved than the limit",
    thresholds=(Threshold("reserved_gpu_hours", D("5"), Unit.HOURS, "reserved GPU hours above this"),),
    figures=(Figure("reserved_hours", Unit.HOURS), Figure("reserved_cost", Unit.MONEY)),
    offender_kinds=("host",),
    judge=reserved_gpus,
)


class EleventhRowTests(SimpleTestCase):
    def setUp(self):
        patcher = mock.patch.object(rows, "ROWS", (*ROWS, ELEVENTH))
        patcher.start()
        self.addCleanup(patcher.stop)

    def test_it_is_judged_in_the_founder_table(self):
        results = founder_table(facts(hosts=(host(),)))
        self.assertEqual([r.key for r in results], [row.key for row in ROWS] + ["reserved_gpus"])
        eleventh = results[-1]
        self.assertEqual((eleventh.title, eleventh.stop_sign), ("Reserved GPUs", True))  # 10 h reserved above 5
        self.assertEqual(eleventh.offenders[0]["id"], "gpu-1")
        self.assertFalse(founder_table(facts(hosts=(host(),)), {"reserved_gpu_hours": "20"})[-1].stop_sign)
        self.assertEqual(thresholds_with_defaults(None)["reserved_gpu_hours"], D("5"))

    def test_its_figures_show_in_their_units(self):
        eleventh = vars(founder_table(facts(hosts=(host(),)))[-1])
        self.assertEqual(figures(eleventh, "USD"), [("Reserved hours", "10.0 h"), ("Reserved cost", "$100.00")])

    def test_its_threshold_is_on_the_thresholds_form(self):
        form = EconomicsSettingsForm(instance=EconomicsSettings(thresholds={}))
        field = form.fields["t_reserved_gpu_hours"]
        self.assertEqual(field.label, "Reserved GPUs: reserved GPU hours above this")
        self.assertEqual((field.initial, field.unit), (D("5"), Unit.HOURS))
        self.assertEqual(form.threshold_fields()[-1].name, "t_reserved_gpu_hours")
        self.assertEqual(len(form.threshold_fields()), len(DEFAULT_THRESHOLDS) + 1)
