"""Invitations end to end: the owner invites, the e-mail carries a link, the invitee signs up and joins."""

import re
from datetime import timedelta
from urllib.parse import urlparse

from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import Invitation, Membership
from accounts.services import invitation_create, invitations_purge
from tests.base import BaseTestCase


class InvitationFlowTests(BaseTestCase):
    def invite(self, email="dana@example.org", role="member"):
        self.client.force_login(self.alice)
        url = reverse("accounts-members", kwargs={"org_code": self.org.code})
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(url, {"email": email, "role": role})
        self.assertRedirects(response, url)
        self.client.logout()
        self.assertEqual(len(mail.outbox), 1)
        link = re.search(r"https?://\S+/accounts/invite/\S+/", mail.outbox[0].body).group(0)
        return urlparse(link).path

    def test_it_takes_a_new_person_from_e_mail_to_member(self):
        path = self.invite(role="viewer")
        message = mail.outbox[0]
        self.assertEqual(message.to, ["dana@example.org"])
        self.assertIn("Alice AI", message.subject)

        landing = self.client.get(path)
        self.assertContains(landing, "Create an account to join")
        signup = reverse("accounts-signup") + "?email=dana%40example.org&next=" + path
        response = self.client.post(
            signup, {"email": "dana@example.org", "password": "a-long-pass-phrase", "next": path}
        )
        self.assertRedirects(response, path, fetch_redirect_response=False)

        response = self.client.post(path)
        self.assertRedirects(response, reverse("finops-founder-table", kwargs={"org_code": self.org.code}))
        membership = Membership.objects.get(org=self.org, user__email="dana@example.org")
        self.assertEqual(membership.role, "viewer")
        self.assertEqual(self.client.get(reverse("finops-costs", kwargs={"org_code": self.org.code})).status_code, 200)

    def test_it_works_only_once(self):
        path = self.invite(email="charlie@example.org")
        self.client.force_login(self.charlie)
        self.client.post(path)
        self.assertTrue(Membership.objects.filter(org=self.org, user=self.charlie).exists())
        response = self.client.post(path)
        self.assertContains(response, "already been used", status_code=410)

    def test_it_refuses_an_expired_link(self):
        path = self.invite(email="charlie@example.org")
        Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
        self.client.force_login(self.charlie)
        response = self.client.post(path)
        self.assertContains(response, "expired", status_code=410)
        self.assertFalse(Membership.objects.filter(org=self.org, user=self.charlie).exists())

    def test_it_refuses_someone_else_than_the_invited_address(self):
        path = self.invite(email="dana@example.org")
        self.client.force_login(self.charlie)
        response = self.client.post(path)
        self.assertContains(response, "was sent to dana@example.org", status_code=403)
        self.assertFalse(Membership.objects.filter(org=self.org, user=self.charlie).exists())

    def test_it_refuses_an_unknown_link(self):
        response = self.client.get(reverse("accounts-invitation", args=["nonsense"]))
        self.assertEqual(response.status_code, 404)

    def test_it_refuses_inviting_an_existing_member(self):
        self.client.force_login(self.alice)
        url = reverse("accounts-members", kwargs={"org_code": self.org.code})
        response = self.client.post(url, {"email": "BOB@example.org", "role": "member"})
        self.assertContains(response, "already a member")
        self.assertEqual(len(mail.outbox), 0)

    def test_it_stores_only_a_hash_of_the_link(self):
        invitation, raw = invitation_create(org=self.org, email="e@example.org", role="member", invited_by=self.alice)
        self.assertNotIn(raw, invitation.token_hash)
        self.assertEqual(len(invitation.token_hash), 64)

    def test_it_purges_long_expired_invitations(self):
        old, _ = invitation_create(org=self.org, email="old@example.org", role="member", invited_by=self.alice)
        fresh, _ = invitation_create(org=self.org, email="new@example.org", role="member", invited_by=self.alice)
        Invitation.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(days=31))
        self.assertEqual(invitations_purge(), 1)
        self.assertEqual(list(Invitation.objects.values_list("pk", flat=True)), [fresh.pk])
