"""403, 404 and 500 pages wear the site's layout and lead home."""

from django.template import loader
from django.test import RequestFactory, override_settings
from django.views import defaults

from tests.base import BaseTestCase


@override_settings(DEBUG=False)
class ErrorPageTests(BaseTestCase):
    def test_it_renders_a_404_for_an_unknown_org_page_in_the_layout(self):
        self.client.force_login(self.alice)
        response = self.client.get("/o/00000000-0000-0000-0000-000000000000/costs/")
        self.assertEqual(response.status_code, 404)
        self.assertTemplateUsed(response, "404.html")
        self.assertTemplateUsed(response, "base.html")
        self.assertContains(response, 'class="shell"', status_code=404)
        self.assertContains(response, "Page not found", status_code=404)
        self.assertContains(response, 'href="/"', status_code=404)
        self.assertContains(response, "alice@example.org", status_code=404)  # the user menu

    def test_it_renders_a_404_for_a_path_no_route_matches_in_the_layout(self):
        response = self.client.get("/no/such/page/")
        self.assertContains(response, "Page not found", status_code=404)
        self.assertContains(response, 'class="shell"', status_code=404)

    def test_it_keeps_json_404s_under_the_api(self):
        response = self.client.get("/api/v1/no-such-endpoint/")
        self.assertEqual(response.status_code, 404)
        self.assertEqual(response.json(), {"detail": "Not found."})

    def test_it_renders_a_403_in_the_layout(self):
        self.client.force_login(self.bob)  # a viewer asking for an owner's page
        response = self.client.post(f"/o/{self.org.code}/settings/members/", {"email": "x@example.org"})
        self.assertEqual(response.status_code, 403)
        self.assertTemplateUsed(response, "403.html")
        self.assertContains(response, 'class="shell"', status_code=403)
        self.assertContains(response, 'href="/"', status_code=403)

    def test_it_renders_the_500_without_a_request_context(self):
        html = loader.get_template("500.html").render()  # as Django's server_error does: no request, no processors
        self.assertIn('class="shell"', html)
        self.assertIn('href="/"', html)
        response = defaults.server_error(RequestFactory().get("/"))
        self.assertEqual(response.status_code, 500)
        self.assertIn(b"Something went wrong", response.content)
