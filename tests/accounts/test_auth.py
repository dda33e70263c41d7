"""Signing up, logging in and out, resetting a password, creating an organisation."""

import re
from urllib.parse import urlparse

from django.core import mail
from django.urls import reverse

from accounts.models import Membership, User
from tests.base import BaseTestCase


class SignupTests(BaseTestCase):
    def test_it_creates_an_account_then_an_organisation(self):
        response = self.client.post(
            reverse("accounts-signup"), {"email": "Erin@Example.org", "password": "a-long-pass-phrase"}
        )
        self.assertRedirects(response, reverse("accounts-org-create"))
        self.assertTrue(User.objects.filter(email="erin@example.org").exists())
        response = self.client.post(
            reverse("accounts-org-create"), {"name": "Erin AI", "currency": "usd", "timezone": "UTC"}
        )
        membership = Membership.objects.get(user__email="erin@example.org")
        self.assertEqual((membership.org.name, membership.org.currency, membership.role), ("Erin AI", "USD", "owner"))
        self.assertRedirects(response, reverse("finops-founder-table", kwargs={"org_code": membership.org.code}))

    def test_it_refuses_a_taken_email_and_a_weak_password(self):
        response = self.client.post(
            reverse("accounts-signup"), {"email": "alice@example.org", "password": "x-long-pass"}
        )
        self.assertContains(response, "already exists")
        response = self.client.post(reverse("accounts-signup"), {"email": "new@example.org", "password": "12345678"})
        self.assertContains(response, "entirely numeric")
        self.assertFalse(User.objects.filter(email="new@example.org").exists())

    def test_it_ignores_an_offsite_next(self):
        response = self.client.post(
            reverse("accounts-signup"),
            {"email": "f@example.org", "password": "a-long-pass-phrase", "next": "https://evil.example/"},
        )
        self.assertRedirects(response, reverse("accounts-org-create"))


class LoginTests(BaseTestCase):
    def test_it_logs_in_with_email_and_out_with_post(self):
        response = self.client.post(
            reverse("accounts-login"), {"username": "alice@example.org", "password": self.password}
        )
        self.assertRedirects(response, reverse("finops-home"), fetch_redirect_response=False)
        self.assertEqual(self.client.get("/").status_code, 302)
        self.client.post(reverse("accounts-logout"))
        response = self.client.get(reverse("finops-costs", kwargs={"org_code": self.org.code}))
        self.assertEqual(response.status_code, 302)

    def test_it_refuses_a_wrong_password(self):
        response = self.client.post(reverse("accounts-login"), {"username": "alice@example.org", "password": "nope"})
        self.assertContains(response, "correct")


class PasswordResetTests(BaseTestCase):
    def test_it_resets_a_password_through_the_emailed_link(self):
        self.client.post(reverse("accounts-password-reset"), {"email": "alice@example.org"})
        self.assertEqual(len(mail.outbox), 1)
        link = re.search(r"https?://\S+/password-reset/\S+/", mail.outbox[0].body).group(0)
        response = self.client.get(urlparse(link).path, follow=True)
        form_url = response.redirect_chain[-1][0]
        response = self.client.post(
            form_url, {"new_password1": "brand-new-pass-phrase", "new_password2": "brand-new-pass-phrase"}
        )
        self.assertRedirects(response, reverse("accounts-password-reset-complete"))
        self.assertTrue(self.client.login(email="alice@example.org", password="brand-new-pass-phrase"))

    def test_it_does_not_reveal_unknown_addresses(self):
        response = self.client.post(reverse("accounts-password-reset"), {"email": "nobody@example.org"})
        self.assertRedirects(response, reverse("accounts-password-reset-sent"))
        self.assertEqual(len(mail.outbox), 0)
