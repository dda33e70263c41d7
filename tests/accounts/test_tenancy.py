"""The tenancy door itself: get_org_for_user and OrgQuerySet.for_org."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import RequestFactory

from accounts.models import ApiKey, Organization
from accounts.services import api_key_create
from accounts.tenancy import get_org_for_user
from tests.base import BaseTestCase


class GetOrgForUserTests(BaseTestCase):
    def request(self, user):
        request = RequestFactory().get("/")
        request.user = user
        request.session = {}
        return request

    def test_it_returns_the_org_with_the_membership(self):
        org = get_org_for_user(self.request(self.bob), self.org.code)
        self.assertEqual(org, self.org)
        self.assertEqual(org.membership.role, "viewer")

    def test_it_hides_other_orgs(self):
        with self.assertRaises(Http404):
            get_org_for_user(self.request(self.charlie), self.org.code)
        with self.assertRaises(Http404):
            get_org_for_user(self.request(self.charlie), "not-a-uuid")

    def test_it_requires_write(self):
        with self.assertRaises(PermissionDenied):
            get_org_for_user(self.request(self.bob), self.org.code, write=True)
        self.assertEqual(get_org_for_user(self.request(self.alice), self.org.code, write=True), self.org)

    def test_it_requires_an_owner_where_asked(self):
        self.org.memberships.filter(user=self.bob).update(role="member")
        self.assertEqual(get_org_for_user(self.request(self.bob), self.org.code, write=True), self.org)
        with self.assertRaises(PermissionDenied):
            get_org_for_user(self.request(self.bob), self.org.code, owner=True)

    def test_it_remembers_the_org_for_the_session(self):
        request = self.request(self.alice)
        get_org_for_user(request, self.org.code)
        self.assertEqual(request.session["org_code"], str(self.org.code))


class OrgQuerySetTests(BaseTestCase):
    def test_it_scopes_to_one_org(self):
        mine, _ = api_key_create(org=self.org, name="a", scope="read", created_by=self.alice)
        api_key_create(org=self.charlies_org, name="c", scope="read", created_by=self.charlie)
        self.assertEqual(list(ApiKey.objects.for_org(self.org)), [mine])

    def test_it_refuses_a_missing_org(self):
        with self.assertRaises(ValueError):
            ApiKey.objects.for_org(None)
        with self.assertRaises(ValueError):
            ApiKey.objects.for_org(Organization(name="unsaved"))
