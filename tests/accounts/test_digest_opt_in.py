"""Each member switches their own weekly digest on and off (Settings → Notifications), and the e-mail's signed
unsubscribe link switches it off without a login."""

from django.conf import settings
from django.core import signing

from accounts.models import Role
from accounts.services import digest_unsubscribe_url
from tests.base import BaseTestCase
from tests.test_pages import OrgPageTestsMixin


class NotificationsPageTests(OrgPageTestsMixin, BaseTestCase):
    url_name = "accounts-notifications"
    heading = "Weekly digest"

    def wants(self, user, org=None) -> bool:
        return (org or self.org).memberships.get(user=user).weekly_digest

    def test_it_shows_and_saves_my_choice(self):
        self.client.force_login(self.alice)
        page = self.client.get(self.url())
        self.assertContains(page, "E-mail me the weekly digest")
        self.assertContains(page, 'id="id_weekly_digest" checked')
        response = self.client.post(self.url(), {})  # the box unticked: nothing posted
        self.assertRedirects(response, self.url())
        self.assertFalse(self.wants(self.alice))
        self.assertNotContains(self.client.get(self.url()), 'id="id_weekly_digest" checked')
        self.client.post(self.url(), {"weekly_digest": "on"})
        self.assertTrue(self.wants(self.alice))

    def test_it_lets_a_viewer_change_only_their_own(self):
        self.client.force_login(self.bob)
        self.assertEqual(self.client.post(self.url(), {}).status_code, 302)
        self.assertFalse(self.wants(self.bob))
        self.assertTrue(self.wants(self.alice))

    def test_it_changes_one_org_at_a_time(self):
        self.charlies_org.memberships.create(user=self.alice, role=Role.MEMBER)
        self.client.force_login(self.alice)
        self.client.post(self.url(), {})
        self.assertFalse(self.wants(self.alice))
        self.assertTrue(self.wants(self.alice, self.charlies_org))

    def test_it_hides_other_orgs(self):
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(self.url()).status_code, 404)
        self.assertEqual(self.client.post(self.url(), {}).status_code, 404)
        self.assertTrue(self.wants(self.alice))
        self.assertTrue(self.wants(self.bob))

    def test_it_is_a_settings_tab(self):
        self.client.force_login(self.bob)
        self.assertContains(self.client.get(f"/o/{self.org.code}/settings/"), self.url())


class UnsubscribeLinkTests(BaseTestCase):
    def link(self, user=None):
        url = digest_unsubscribe_url(self.org.memberships.get(user=user or self.bob))
        return url.removeprefix(settings.SITE_URL)

    def wants(self, user) -> bool:
        return self.org.memberships.get(user=user).weekly_digest

    def test_it_asks_then_switches_the_digest_off_without_a_login(self):
        page = self.client.get(self.link())
        self.assertContains(page, "Stop the weekly digest of <strong>Alice AI</strong> for <strong>bob@example.org")
        self.assertTrue(self.wants(self.bob))  # opening the link (or a mail scanner doing so) changes nothing
        done = self.client.post(self.link())  # also how a mail client's one-click unsubscribe arrives
        self.assertContains(done, "will get no more weekly digests")
        self.assertFalse(self.wants(self.bob))
        self.assertTrue(self.wants(self.alice))
        self.assertContains(self.client.get(self.link()), "already gets no weekly digest")
        self.assertEqual(self.client.post(self.link()).status_code, 200)  # twice is harmless

    def test_it_refuses_a_tampered_link(self):
        code = str(self.org.memberships.get(user=self.alice).code)
        good = self.link(self.alice)
        token = good.rstrip("/").rsplit("/", 1)[-1]
        forged = signing.dumps(code, salt="another purpose")
        for path in (
            good.replace(token, token[:-2] + "xx"),
            good.replace(token, forged),
            "/accounts/digest/unsubscribe/x/",
        ):
            with self.subTest(path=path):
                self.assertContains(self.client.post(path), "not valid", status_code=404)
        self.assertTrue(self.wants(self.alice))

    def test_it_refuses_the_link_of_a_membership_that_is_gone(self):
        path = self.link()
        self.org.memberships.filter(user=self.bob).delete()
        self.assertEqual(self.client.post(path).status_code, 404)
