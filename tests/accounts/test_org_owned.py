"""Every tenant-owned model stands on accounts.models.OrgOwned: its `org`, its public `code`, its one manager."""

from django.apps import apps
from django.db import models
from django.test import SimpleTestCase

from accounts.models import Organization, OrgOwned, OrgOwnedWithCode
from accounts.tenancy import OrgQuerySet

PROJECT_APPS = ("accounts", "ingest", "pricing", "finops")


def project_models():
    return [m for m in apps.get_models() if m._meta.app_label in PROJECT_APPS]


def has_field(model, name):
    return any(f.name == name for f in model._meta.get_fields())


class OrgOwnedTests(SimpleTestCase):
    def test_it_finds_the_org_owned_models(self):
        owned = [m for m in project_models() if has_field(m, "org")]
        self.assertGreaterEqual(len(owned), 40)  # a broken lookup must not pass the tests below by finding nothing

    def test_it_makes_every_model_with_an_org_inherit_the_base(self):
        offenders = [m._meta.label for m in project_models() if has_field(m, "org") and not issubclass(m, OrgOwned)]
        self.assertEqual(offenders, [], "a tenant-owned model inherits accounts.models.OrgOwned (or OrgOwnedWithCode)")

    def test_it_gives_every_org_owned_model_with_a_code_the_coded_base(self):
        offenders = [
            m._meta.label
            for m in project_models()
            if issubclass(m, OrgOwned) and has_field(m, "code") and not issubclass(m, OrgOwnedWithCode)
        ]
        self.assertEqual(offenders, [], "inherit OrgOwnedWithCode instead of declaring `code` again")

    def test_it_keeps_org_a_required_cascading_key_to_the_organisation(self):
        for model in apps.get_models():
            if not issubclass(model, OrgOwned):
                continue
            with self.subTest(model=model._meta.label):
                field = model._meta.get_field("org")
                self.assertIsInstance(field, models.ForeignKey)  # a OneToOneField is one too
                self.assertIs(field.related_model, Organization)
                self.assertIs(field.remote_field.on_delete, models.CASCADE)
                self.assertFalse(field.null)

    def test_it_gives_every_org_owned_model_the_for_org_manager(self):
        org = Organization(pk=1, name="unsaved but with a pk")
        for model in apps.get_models():
            if not issubclass(model, OrgOwned):
                continue
            with self.subTest(model=model._meta.label):
                self.assertIs(model._default_manager, model.objects)
                self.assertIs(model.objects._queryset_class, OrgQuerySet)
                query = str(model.objects.for_org(org).query)
                self.assertIn(f'"{model._meta.db_table}"."org_id" = 1', query)

    def test_it_keeps_the_public_code_a_unique_uuid(self):
        for model in apps.get_models():
            if not issubclass(model, OrgOwnedWithCode):
                continue
            with self.subTest(model=model._meta.label):
                field = model._meta.get_field("code")
                self.assertIsInstance(field, models.UUIDField)
                self.assertTrue(field.unique)
                self.assertFalse(field.editable)
