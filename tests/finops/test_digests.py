"""The weekly digest as its readers get it: usage posted through the API, `send_digests` run, the e-mails read
from the outbox (alice owns org A, bob views it, charlie owns org B)."""

import re
import smtplib
from datetime import date, datetime, timedelta
from decimal import Decimal
from io import StringIO

from django.conf import settings
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.core.management import CommandError, call_command
from django.test import SimpleTestCase, override_settings
from django.utils import timezone

from accounts.services import org_create, org_update
from finops.economics.rules import DEFAULT_THRESHOLDS
from finops.forms import threshold_form_data
from finops.founder_table import row_impact
from finops.models import Digest
from finops.services.digests import digest_orgs_due
from finops.tasks import digests_due
from tests.base import BaseTestCase
from tests.ingest.helpers import ApiClientMixin

MONDAY = date(2026, 11, 2)
WEEK = "2026-W45"


class RefusingBackend(EmailBackend):
    """The mail server refuses bob's address: the boundary where a send fails."""

    def send_messages(self, messages):
        if any("bob@" in address for m in messages for address in m.to):
            raise smtplib.SMTPRecipientsRefused({"bob@example.org": (550, b"mailbox unavailable")})
        return super().send_messages(messages)


class DigestTests(ApiClientMixin, BaseTestCase):
    def setUp(self):
        self.make_keys()
        self.posted = 0

    def post_calls(self, day: date, feature: str, model: str, calls: int, cost: str):
        body = [
            {"event_id": f"e{self.posted + i}", "timestamp": f"{day}T10:{i % 60:02d}:00Z", "provider": "openai",
             "model": model, "feature": feature, "customer": "acme", "input_tokens": 1000, "output_tokens": 100,
             "cost": cost}
            for i in range(calls)
        ]  # fmt: skip
        self.posted += calls
        self.post_events(body)

    def make_week(self):
        """Week 45: chat sends 19 of 20 calls to gpt-4o ($94.05 to save on gpt-4o-mini) and the deferrable
        nightly feature pays $150 at real-time prices; week 44: $50 of chat."""
        self.client.force_login(self.alice)
        form = {"shared_cost_key": "requests", "api_gap_key": "none", "electricity_price_amount": "0.2", "pue": "1.4",
                "target_margin_pct": "55", "trial_plan": "trial", "payment_fee_pct": "2.9",
                "payment_fee_fixed_amount": "0.30", "deferrable_features_text": "nightly",
                **threshold_form_data(DEFAULT_THRESHOLDS)}  # fmt: skip
        self.assertEqual(self.client.post(f"/o/{self.org.code}/thresholds/", form).status_code, 302)
        self.client.logout()
        self.post_calls(MONDAY - timedelta(days=5), "chat", "gpt-4o", 10, "5.00")
        self.post_calls(MONDAY + timedelta(days=1), "chat", "gpt-4o", 19, "5.00")
        self.post_calls(MONDAY + timedelta(days=2), "chat", "gpt-4o-mini", 1, "0.05")
        self.post_calls(MONDAY + timedelta(days=3), "nightly", "gpt-4o-mini", 3, "50.00")

    def send(self, *args) -> str:
        out = StringIO()
        call_command("send_digests", *args, stdout=out)
        return out.getvalue()

    def mail_to(self, address):
        return [m for m in mail.outbox if m.to == [address]]

    def test_it_sends_the_stop_signs_metrics_biggest_leak_and_fix(self):
        self.make_week()
        out = self.send("--org", str(self.org.code), "--week", WEEK)
        self.assertEqual(out.strip(), f"Alice AI ({self.org.code}), week {WEEK}: sent 2, already sent 0")
        self.assertEqual(sorted(m.to[0] for m in mail.outbox), ["alice@example.org", "bob@example.org"])
        message = self.mail_to("alice@example.org")[0]
        self.assertEqual(message.subject, f"Alice AI, week {WEEK}: 2 stop signs; biggest leak: Batch job, $150.00")
        text = message.body
        html, kind = message.alternatives[0]
        self.assertEqual(kind, "text/html")
        self.assertIn("THE BIGGEST LEAK\nBatch job: $150.00 at stake.", text)
        self.assertIn("  - nightly, $150.00: deferrable work paid at real-time prices", text)
        self.assertIn("Suggested fix: Run deferrable work when buyers can wait.", text)
        self.assertIn("Model route ($94.05 at stake).", text)
        self.assertIn("Founder move: Send simple work to cheaper paths.", text)
        self.assertIn("  - chat, $94.05: 95% of calls on gpt-4o; gpt-4o-mini would save 99%", text)
        self.assertIn(
            "Billed $245.05 · Allocated to work $245.05 · Idle $0.00 · Unmeasured GPU time $0.00 · Unattributed $0.00",
            text,
        )
        self.assertIn("GPU and API spend by feature: $245.05 / $50.00 / +390%", text)
        self.assertIn("GPU and API spend by customer: $245.05 / $50.00 / +390%", text)
        self.assertIn("Inference calls per customer: 23.0 / 10.0 / +130%", text)
        self.assertIn("Cost per completed customer job: $10.65 / $5.00 / +113%", text)  # single calls are jobs
        # Unknown is a dash, never 0: no releases and no revenue yet.
        self.assertIn("Evaluation spend per release: — / — / —", text)
        self.assertIn("Gross margin after AI compute: — / — / —", text)
        table = f"{settings.SITE_URL}/o/{self.org.code}/?week={WEEK}"
        self.assertIn(f"{table}#row-batch_job", text)
        self.assertIn(f"The Founder Table of this week:\n{table}\n", text)
        for figure in ("Batch job: $150.00 at stake", "Run deferrable work when buyers can wait", "nightly",
                       "Model route", "$94.05", "Send simple work to cheaper paths", "$245.05", "+390%",
                       f'href="{table}#row-batch_job"', f'href="{table}"'):  # fmt: skip
            self.assertIn(figure, html)
        self.assertEqual(Digest.objects.filter(org=self.org, week=MONDAY).exclude(sent_at=None).count(), 2)

    def test_it_shows_the_founder_table_pages_figures(self):
        self.make_week()
        self.send("--org", str(self.org.code), "--week", WEEK)
        self.client.force_login(self.alice)
        page = self.client.get(f"/o/{self.org.code}/?week={WEEK}").content.decode()
        shown = re.findall(
            r'<tr id="metric-\w+">\s*<td>(.*?)(?:<div.*?)?</td>\s*<td class="num">(.*?)</td>\s*'
            r'<td class="num muted">(.*?)</td>\s*<td class="num">(.*?)</td>',
            page,
            re.S,
        )
        self.assertEqual(len(shown), 12)
        text = self.mail_to("alice@example.org")[0].body
        for title, value, previous, change in shown:
            value = re.sub(r"<[^>]+>", "", value)  # a money figure is a link to the explorer
            self.assertIn(f"\n{title}: {value} / {previous} / {change.strip()}\n", text)
        for key in ("batch_job", "model_route"):
            self.assertIn(f'<tr id="row-{key}">', page)
            self.assertIn(f"#row-{key}", text)

    def test_it_sends_once_when_run_twice(self):
        self.make_week()
        self.send("--week", WEEK)
        first = len(mail.outbox)
        self.assertEqual(first, 3)  # alice, bob and charlie (of org B)
        out = self.send("--week", WEEK)
        self.assertEqual(len(mail.outbox), first)
        self.assertIn(f"Alice AI ({self.org.code}), week {WEEK}: sent 0, already sent 2", out)
        self.assertIn(f"Charlie Labs ({self.charlies_org.code}), week {WEEK}: sent 0, already sent 1", out)

    def test_it_skips_a_member_who_switched_it_off(self):
        self.make_week()
        self.client.force_login(self.bob)
        self.client.post(f"/o/{self.org.code}/settings/notifications/", {})
        self.send("--org", str(self.org.code), "--week", WEEK)
        self.assertEqual([m.to for m in mail.outbox], [["alice@example.org"]])
        self.assertFalse(Digest.objects.filter(user=self.bob).exists())

    def test_it_keeps_each_org_to_its_own_members(self):
        self.make_week()
        self.send("--org", str(self.org.code), "--week", WEEK)
        self.assertEqual(self.mail_to("charlie@example.org"), [])
        self.send("--org", str(self.charlies_org.code), "--week", WEEK)
        charlies = self.mail_to("charlie@example.org")
        self.assertEqual(len(charlies), 1)
        self.assertEqual(len(mail.outbox), 3)
        text = charlies[0].body
        self.assertTrue(text.startswith("Charlie Labs: week 2026-W45"))
        self.assertIn("No costs in this week yet.", text)
        self.assertIn("None: no row of the Founder Table has a stop sign this week.", text)
        for leaked in ("Alice AI", "nightly", "$245.05", str(self.org.code)):
            self.assertNotIn(leaked, text + charlies[0].alternatives[0][0])
        self.assertFalse(Digest.objects.filter(org=self.charlies_org).exclude(user=self.charlie).exists())

    def test_it_refuses_an_unknown_org_or_week(self):
        this_monday = timezone.now().date() - timedelta(days=timezone.now().weekday())
        year, week, _ = this_monday.isocalendar()
        for args, message in (
            (("--org", "not-a-code"), "No organisation has the code"),
            (("--org", "6f1c1c52-0000-4000-8000-000000000000"), "No organisation has the code"),
            (("--week", "2026-45"), "YYYY-Www"),
            (("--week", "2026-W54"), "YYYY-Www"),
            (("--week", f"{year}-W{week:02d}"), "has not ended yet"),
        ):
            with self.subTest(args=args), self.assertRaisesMessage(CommandError, message):
                self.send(*args)
        self.assertEqual(mail.outbox, [])

    def test_it_reports_the_last_complete_week_by_default(self):
        self.send("--org", str(self.org.code))
        today = timezone.now().date()
        last_monday = today - timedelta(days=today.weekday() + 7)
        self.assertEqual(set(Digest.objects.values_list("week", flat=True)), {last_monday})
        year, week, _ = last_monday.isocalendar()
        self.assertIn(f"week {year}-W{week:02d}", mail.outbox[0].subject)

    def test_it_gives_the_claim_back_when_sending_fails(self):
        self.make_week()
        refusing = override_settings(EMAIL_BACKEND="tests.finops.test_digests.RefusingBackend")
        with refusing, self.assertRaisesMessage(CommandError, "1 digest(s) could not be sent"):
            self.send("--org", str(self.org.code), "--week", WEEK)
        self.assertEqual([m.to for m in mail.outbox], [["alice@example.org"]])
        self.assertIsNone(Digest.objects.get(user=self.bob, week=MONDAY).sent_at)
        self.assertIsNotNone(Digest.objects.get(user=self.alice, week=MONDAY).sent_at)
        out = self.send("--org", str(self.org.code), "--week", WEEK)  # the mail server is back: bob's goes out
        self.assertIn("sent 1, already sent 1", out)
        self.assertEqual([m.to for m in mail.outbox], [["alice@example.org"], ["bob@example.org"]])

    def test_its_unsubscribe_link_switches_the_digest_off(self):
        self.make_week()
        self.send("--org", str(self.org.code), "--week", WEEK)
        message = self.mail_to("bob@example.org")[0]
        link = re.search(r"Unsubscribe from this digest: (\S+)", message.body).group(1)
        self.assertEqual(message.extra_headers["List-Unsubscribe"], f"<{link}>")
        self.assertIn(f'href="{link}"', message.alternatives[0][0])
        path = link.removeprefix(settings.SITE_URL)
        self.assertContains(self.client.get(path), "Unsubscribe")  # no login needed; a GET changes nothing
        self.assertTrue(self.org.memberships.get(user=self.bob).weekly_digest)
        self.assertContains(self.client.post(path), "will get no more weekly digests")
        self.assertFalse(self.org.memberships.get(user=self.bob).weekly_digest)
        self.assertTrue(self.org.memberships.get(user=self.alice).weekly_digest)


class DigestFanOutTests(BaseTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        org_update(org=cls.org, name=cls.org.name, currency="USD", timezone_name="Europe/Berlin")
        org_update(
            org=cls.charlies_org, name=cls.charlies_org.name, currency="USD", timezone_name="America/Los_Angeles"
        )
        cls.tokyo = org_create(name="Tokyo KK", owner=cls.charlie, timezone_name="Asia/Tokyo")

    def due(self, when: str) -> set:
        return {(org_id, monday) for org_id, monday in digest_orgs_due(now=datetime.fromisoformat(when))}

    def test_it_picks_orgs_where_it_is_monday_from_eight_local_time(self):
        last_week = date(2026, 11, 2)
        a, b, tokyo = self.org.pk, self.charlies_org.pk, self.tokyo.pk
        self.assertEqual(self.due("2026-11-09T06:59:00+00:00"), {(tokyo, last_week)})  # Berlin 07:59, Tokyo 15:59
        self.assertEqual(self.due("2026-11-09T07:00:00+00:00"), {(a, last_week), (tokyo, last_week)})
        self.assertEqual(self.due("2026-11-09T16:00:00+00:00"), {(a, last_week), (b, last_week)})  # Tokyo: Tuesday
        self.assertEqual(self.due("2026-11-10T07:59:00+00:00"), {(b, last_week)})  # LA: Monday 23:59
        self.assertEqual(self.due("2026-11-10T08:00:00+00:00"), set())
        # Tokyo's Monday 08:00 is Sunday 23:00 in UTC, before the week has ended: it waits for UTC midnight.
        self.assertEqual(self.due("2026-11-08T23:30:00+00:00"), set())
        self.assertEqual(self.due("2026-11-09T00:00:00+00:00"), {(tokyo, last_week)})

    def test_it_leaves_out_orgs_where_nobody_wants_it(self):
        self.tokyo.memberships.update(weekly_digest=False)
        self.assertEqual(self.due("2026-11-09T00:00:00+00:00"), set())

    def test_the_beat_task_sends_each_due_org_its_last_week(self):
        self.assertEqual(digests_due.delay(now="2026-11-09T07:00:00+00:00").get(), 2)
        self.assertEqual(sorted(m.to[0] for m in mail.outbox), ["alice@example.org", "bob@example.org",
                                                                "charlie@example.org"])  # fmt: skip
        subjects = {m.subject.split(":")[0] for m in mail.outbox}
        self.assertEqual(subjects, {"Alice AI, week 2026-W45", "Tokyo KK, week 2026-W45"})
        self.assertEqual(digests_due.delay(now="2026-11-09T08:00:00+00:00").get(), 2)  # an hour later: no repeats
        self.assertEqual(len(mail.outbox), 3)
        self.assertEqual(Digest.objects.filter(week=date(2026, 11, 2)).exclude(sent_at=None).count(), 3)


class RowImpactTests(SimpleTestCase):
    def test_it_counts_each_subject_once_and_overlapping_kinds_not_at_all(self):
        def offender(kind, ident, amount):
            return {"kind": kind, "id": ident, "amount": Decimal(amount)}

        idle = {"offenders": [offender("host", "a", "40"), offender("host", "b", "10"), offender("host", "a", "5")]}
        self.assertEqual(row_impact(idle), Decimal("50"))  # host a idle and zombie: counted once, at 40
        trial = {"offenders": [offender("plan", "trial", "90"), offender("customer", "x", "60"),
                               offender("customer", "y", "20")]}  # fmt: skip
        self.assertEqual(row_impact(trial), Decimal("90"))  # all trial accounts already hold x and y
        self.assertEqual(row_impact({"offenders": []}), Decimal("0"))
