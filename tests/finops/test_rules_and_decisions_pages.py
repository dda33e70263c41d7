"""The bucket rules page and the releases-and-questions page: writes go through services and recompute."""

from datetime import date

from finops.models import BucketRule, LearningQuestion, Release, RollupDay
from ingest.models import DirtyDay
from tests.base import BaseTestCase


class BucketRulesPageTests(BaseTestCase):
    def url(self, org=None):
        return f"/o/{(org or self.org).code}/rules/"

    def test_it_adds_a_rule_and_marks_computed_days_for_recompute(self):
        RollupDay.objects.create(org=self.org, day=date(2026, 10, 5))
        self.client.force_login(self.alice)
        response = self.client.post(self.url(), {"field": "purpose", "pattern": "eval*", "bucket": "evaluation"})
        self.assertEqual(response.status_code, 302)
        rule = BucketRule.objects.get(org=self.org)
        self.assertEqual((rule.field, rule.pattern, rule.bucket), ("purpose", "eval*", "evaluation"))
        self.assertTrue(DirtyDay.objects.filter(org=self.org, day=date(2026, 10, 5)).exists())
        self.assertContains(self.client.get(self.url()), "eval*")

    def test_it_removes_a_rule(self):
        rule = BucketRule.objects.create(org=self.org, field="feature", pattern="research-*", bucket="research")
        self.client.force_login(self.alice)
        self.client.post(f"{self.url()}{rule.code}/delete/")
        self.assertFalse(BucketRule.objects.exists())

    def test_it_hides_other_orgs(self):
        rule = BucketRule.objects.create(org=self.org, field="feature", pattern="x", bucket="research")
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(self.url()).status_code, 404)
        self.assertEqual(self.client.post(f"/o/{self.charlies_org.code}/rules/{rule.code}/delete/").status_code, 404)
        self.assertTrue(BucketRule.objects.filter(pk=rule.pk).exists())

    def test_it_requires_write(self):
        self.client.force_login(self.bob)
        self.assertEqual(self.client.get(self.url()).status_code, 200)
        response = self.client.post(self.url(), {"field": "purpose", "pattern": "x", "bucket": "research"})
        self.assertEqual(response.status_code, 403)
        self.assertFalse(BucketRule.objects.exists())


def release_form(name):
    return {"release": "1", "release-name": name, "release-released_at": "2026-10-05T17:00"}


class DecisionsPageTests(BaseTestCase):
    def url(self):
        return f"/o/{self.org.code}/decisions/"

    def test_it_records_a_release_and_a_learning_question(self):
        self.client.force_login(self.alice)
        self.client.post(
            self.url(), {"release": "1", "release-name": "v3.0", "release-released_at": "2026-10-05T17:00"}
        )
        self.assertEqual(Release.objects.get(org=self.org).name, "v3.0")
        page = self.client.get(self.url() + "?run=train-7")
        self.assertContains(page, 'value="train-7"')
        question = {"question-run": "train-7", "question-question": "Does more data help?", "question-decision": ""}
        self.client.post(self.url(), {"question": "1", **question})
        self.assertEqual(LearningQuestion.objects.get(org=self.org).run, "train-7")

    def test_it_hides_other_orgs(self):
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(self.url()).status_code, 404)

    def test_it_requires_write(self):
        self.client.force_login(self.bob)
        response = self.client.post(
            self.url(), {"release": "1", "release-name": "v3", "release-released_at": "2026-10-05T17:00"}
        )
        self.assertEqual(response.status_code, 403)
