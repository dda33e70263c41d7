"""Deleting data (issue 16): an upload with every row it loaded, through its page and the API, and usage events by
upload or by event_id; the days recompute, the reads drop the amounts, the same file uploaded again loads again."""

import json
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from finops.services.rollups import rollups_refresh
from ingest.models import BillPeriod, ContractCommitment, CostLine, DirtyDay, Upload, UsageEvent
from tests.ingest.test_bill_uploads import UploadTestCase, focus_rows
from tests.ingest.test_usage_events import event

OCT = "?start=2026-10-01&end=2026-11-01"
DELETE_EVENTS = "/api/v1/usage-events/delete/"


class DeletionTestCase(UploadTestCase):
    def setUp(self):
        super().setUp()
        self.bill = focus_rows(["10", "20", "30"])
        self.first = self.upload("oct.csv", self.bill)
        self.other = self.upload("nov-acct-2.csv", focus_rows(["5"], account="acct-2"))
        rollups_refresh(org=self.org)

    def summary(self):
        body = self.api_get(f"/api/v1/ledger/summary/{OCT}").json()
        parts = sum(Decimal(body[k] or 0) for k in ("allocated", "idle", "unmeasured", "unattributed"))
        self.assertEqual(parts, Decimal(body["billed_total"] or 0))  # the identity holds whatever was deleted
        return Decimal(body["billed_total"] or 0)

    def delete_api(self, code, key=None):
        return self.client.delete(f"/api/v1/uploads/{code}/", HTTP_AUTHORIZATION=f"Bearer {key or self.write_key}")

    def delete_events(self, body, key=None):
        return self.client.post(DELETE_EVENTS, json.dumps(body), content_type="application/json",
                                HTTP_AUTHORIZATION=f"Bearer {key or self.write_key}")  # fmt: skip

    def page_url(self, code, org=None):
        return f"/o/{(org or self.org).code}/sources/uploads/{code}/delete/"


class UploadDeletionTests(DeletionTestCase):
    def test_it_deletes_an_upload_through_the_api_and_the_amounts_go(self):
        self.assertEqual(self.summary(), Decimal("65"))
        response = self.delete_api(self.first["id"])
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        self.assertEqual(body["upload"], self.first["id"])
        self.assertEqual((body["cost_lines"], body["usage_events"], body["billing_periods"]), (3, 0, 1))
        self.assertEqual(body["days"], ["2026-10-01", "2026-10-02", "2026-10-03"])
        self.assertFalse(Upload.objects.filter(code=self.first["id"]).exists())
        self.assertFalse(CostLine.objects.filter(org=self.org, upload__code=self.first["id"]).exists())
        self.assertEqual(CostLine.objects.filter(org=self.org).count(), 1)  # the other upload's line stays
        self.assertEqual(BillPeriod.objects.filter(org=self.org).count(), 1)
        self.assertEqual(
            set(DirtyDay.objects.filter(org=self.org).values_list("day", flat=True)),
            {date(2026, 10, d) for d in (1, 2, 3)},
        )
        self.assertEqual(self.summary(), Decimal("5"))  # a read recomputes the dirty days first (embedded mode)
        founder = self.api_get(f"/api/v1/founder-table/{OCT}")
        self.assertEqual(founder.status_code, 200)
        # A replay: the upload is gone.
        self.assertEqual(self.delete_api(self.first["id"]).status_code, 404)
        # The same file again is a first load, not a restatement of a period whose lines went.
        again = self.upload("oct.csv", self.bill)
        self.assertEqual((again["status"], again["rows_loaded"], again["rows_replaced"]), ("done", 3, 0))
        self.assertEqual(self.summary(), Decimal("65"))

    def test_it_deletes_an_upload_through_the_page_after_showing_what_goes(self):
        self.client.force_login(self.alice)
        detail = self.client.get(f"/o/{self.org.code}/sources/uploads/{self.first['id']}/")
        self.assertContains(detail, self.page_url(self.first["id"]))
        confirm = self.client.get(self.page_url(self.first["id"]))
        self.assertEqual(confirm.status_code, 200)
        self.assertContains(confirm, "<dt>Bill lines</dt><dd>3</dd>", html=True)
        self.assertContains(confirm, "3 (1 Oct 2026 – 3 Oct 2026)")
        self.assertEqual(CostLine.objects.filter(org=self.org).count(), 4)  # nothing goes before the POST
        response = self.client.post(self.page_url(self.first["id"]))
        self.assertRedirects(response, f"/o/{self.org.code}/sources/", fetch_redirect_response=False)
        self.assertContains(self.client.get(response.url), "Deleted oct.csv and its 3 rows")
        self.assertEqual(CostLine.objects.filter(org=self.org).count(), 1)
        self.assertEqual(self.summary(), Decimal("5"))
        self.assertEqual(self.client.get(self.page_url(self.first["id"])).status_code, 404)
        again = self.upload("oct.csv", self.bill)
        self.assertEqual((again["rows_loaded"], again["rows_replaced"]), (3, 0))

    def test_it_deletes_the_stored_file_once_committed(self):
        upload = Upload.objects.get(code=self.first["id"])
        storage, name = upload.file.storage, upload.file.name
        self.assertTrue(storage.exists(name))
        with self.captureOnCommitCallbacks(execute=True):
            self.delete_api(self.first["id"])
        self.assertFalse(storage.exists(name))

    def test_it_deletes_an_uploads_contract_commitments(self):
        header = ["ContractCommitmentId", "ContractCommitmentPeriodStart", "ContractCommitmentCategory",
                  "ContractCommitmentCost", "BillingCurrency", "ProviderName"]  # fmt: skip
        content = "\n".join([",".join(header), "cc-1,2026-10-01T00:00:00Z,Spend,1000,USD,AWS"]).encode()
        commitments = self.upload("commitments.csv", content)
        self.assertEqual(commitments["status"], "done", commitments["errors"])
        self.assertEqual(ContractCommitment.objects.filter(org=self.org).count(), 1)
        body = self.delete_api(commitments["id"]).json()
        self.assertEqual((body["commitments"], body["cost_lines"], body["days"]), (1, 0, []))
        self.assertFalse(ContractCommitment.objects.filter(org=self.org).exists())

    def test_it_refuses_while_the_import_runs(self):
        Upload.objects.filter(code=self.first["id"]).update(status="processing", started_at=timezone.now())
        response = self.delete_api(self.first["id"])
        self.assertEqual(response.status_code, 409)
        self.assertEqual(CostLine.objects.filter(org=self.org).count(), 4)
        self.client.force_login(self.alice)
        self.assertContains(self.client.get(self.page_url(self.first["id"])), "being imported")
        # One stuck past the hard time limit (its worker died) can go.
        Upload.objects.filter(code=self.first["id"]).update(started_at=timezone.now() - timedelta(days=1))
        self.assertEqual(self.delete_api(self.first["id"]).status_code, 200)

    def test_it_deletes_with_the_same_queries_however_many_rows(self):
        big = self.upload("big.csv", focus_rows(["1"] * 28, period="2026-09", account="acct-9"))
        small = self.upload("small.csv", focus_rows(["1"], period="2026-08", account="acct-8"))
        counts = []
        for code in (small["id"], big["id"]):
            with CaptureQueriesContext(connection) as queries:
                self.assertEqual(self.delete_api(code).status_code, 200)
            counts.append(len(queries))
        self.assertEqual(counts[0], counts[1])

    def test_it_requires_write(self):
        self.client.force_login(self.bob)
        self.assertEqual(self.client.get(self.page_url(self.first["id"])).status_code, 403)
        self.assertEqual(self.client.post(self.page_url(self.first["id"])).status_code, 403)
        detail = self.client.get(f"/o/{self.org.code}/sources/uploads/{self.first['id']}/")
        self.assertNotContains(detail, self.page_url(self.first["id"]))
        self.assertEqual(self.delete_api(self.first["id"], key=self.read_key).status_code, 403)
        session = self.client.delete(f"/api/v1/uploads/{self.first['id']}/?org={self.org.code}")
        self.assertEqual(session.status_code, 403)
        self.assertEqual(CostLine.objects.filter(org=self.org).count(), 4)

    def test_it_hides_other_orgs(self):
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(self.page_url(self.first["id"])).status_code, 404)
        self.assertEqual(self.client.post(self.page_url(self.first["id"])).status_code, 404)
        # charlie's own org in the URL, alice's upload: still not found
        self.assertEqual(self.client.post(self.page_url(self.first["id"], self.charlies_org)).status_code, 404)
        self.assertEqual(self.delete_api(self.first["id"], key=self.charlie_key).status_code, 404)
        session = self.client.delete(f"/api/v1/uploads/{self.first['id']}/?org={self.org.code}")
        self.assertEqual(session.status_code, 404)
        self.assertEqual(CostLine.objects.filter(org=self.org).count(), 4)


class UsageEventDeletionTests(DeletionTestCase):
    def calls(self):
        return self.api_get(f"/api/v1/usage/summary/{OCT}").json()["calls"]

    def test_it_deletes_events_by_id_and_a_replay_deletes_nothing_more(self):
        self.post_events([event(i, timestamp=f"2026-10-0{5 + i}T10:00:00Z") for i in range(3)])
        rollups_refresh(org=self.org)
        self.assertEqual(self.calls(), 3)
        response = self.delete_events({"event_ids": ["evt-0", "evt-2", "nope", "evt-0"]})
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(response.json(), {"deleted": 2, "not_found": ["nope"], "days": ["2026-10-05", "2026-10-07"]})
        self.assertEqual(list(UsageEvent.objects.filter(org=self.org).values_list("event_id", flat=True)), ["evt-1"])
        self.assertEqual(
            set(DirtyDay.objects.filter(org=self.org).values_list("day", flat=True)),
            {date(2026, 10, 5), date(2026, 10, 7)},
        )
        self.assertEqual(self.calls(), 1)
        replay = self.delete_events({"event_ids": ["evt-0", "evt-2", "nope"]}).json()
        self.assertEqual(replay, {"deleted": 0, "not_found": ["evt-0", "evt-2", "nope"], "days": []})
        # Sent again, a deleted event is new again.
        self.assertEqual(self.post_events([event(0, timestamp="2026-10-05T10:00:00Z")]).json()["accepted"], 1)

    def test_it_deletes_an_uploads_events_and_the_file_loads_again(self):
        lines = "\n".join(json.dumps(event(i)) for i in range(4)).encode()
        upload = self.upload("calls.jsonl", lines, kind="usage")
        self.post_events([event("live")])
        response = self.delete_events({"upload": upload["id"]})
        self.assertEqual(response.json(), {"deleted": 4, "not_found": [], "days": ["2026-10-05"]})
        self.assertEqual(list(UsageEvent.objects.filter(org=self.org).values_list("event_id", flat=True)), ["evt-live"])
        self.assertTrue(Upload.objects.filter(code=upload["id"]).exists())  # the upload itself stays
        self.assertEqual(self.delete_events({"upload": upload["id"]}).json()["deleted"], 0)
        again = self.upload("calls.jsonl", lines, kind="usage")
        self.assertEqual((again["rows_loaded"], again["rows_duplicate"]), (4, 0))
        # Deleting the upload itself takes its events too.
        body = self.delete_api(again["id"]).json()
        self.assertEqual((body["usage_events"], body["cost_lines"], body["days"]), (4, 0, ["2026-10-05"]))
        self.assertEqual(UsageEvent.objects.filter(org=self.org).count(), 1)

    def test_it_refuses_a_request_naming_neither_or_both_or_too_many(self):
        for body in ({}, {"event_ids": ["a"], "upload": self.first["id"]}, {"event_ids": [str(i) for i in range(1001)]},
                     {"event_ids": "evt-1"}, {"upload": "not-a-uuid"}, []):  # fmt: skip
            with self.subTest(body=str(body)[:40]):
                self.assertEqual(self.delete_events(body).status_code, 400)

    def test_it_requires_write(self):
        self.post_events([event(1)])
        self.assertEqual(self.delete_events({"event_ids": ["evt-1"]}, key=self.read_key).status_code, 403)
        self.client.force_login(self.bob)
        response = self.client.post(f"{DELETE_EVENTS}?org={self.org.code}", {"event_ids": ["evt-1"]},
                                    content_type="application/json")  # fmt: skip
        self.assertEqual(response.status_code, 403)
        self.assertEqual(UsageEvent.objects.filter(org=self.org).count(), 1)

    def test_it_hides_other_orgs(self):
        self.post_events([event(1)])
        body = self.delete_events({"event_ids": ["evt-1"]}, key=self.charlie_key).json()
        self.assertEqual((body["deleted"], body["not_found"]), (0, ["evt-1"]))
        self.assertEqual(self.delete_events({"upload": self.first["id"]}, key=self.charlie_key).status_code, 404)
        self.client.force_login(self.charlie)
        response = self.client.post(f"{DELETE_EVENTS}?org={self.org.code}", {"event_ids": ["evt-1"]},
                                    content_type="application/json")  # fmt: skip
        self.assertEqual(response.status_code, 404)
        self.assertEqual(UsageEvent.objects.filter(org=self.org).count(), 1)

    def test_the_schema_describes_both_endpoints(self):
        schema = self.client.get("/api/schema/", {"format": "json"}).json()
        self.assertIn("delete", schema["paths"]["/api/v1/uploads/{code}/"])
        operation = schema["paths"]["/api/v1/usage-events/delete/"]["post"]
        self.assertIn("UsageEventsDeleteInput", json.dumps(operation["requestBody"]))
