"""Lockout after failed logins (per account and per address), and rate limits on password resets, sign-ups and the
API (per key, per agent token, per user, per address).

Limits are small here and per day, so a test never straddles a window. Counters live in the cache, which may be a
Redis shared by several runs: every test counts under addresses, e-mails and keys of its own (or clears its user's).
"""

import ipaddress
import json
import secrets
import uuid
from datetime import timedelta

from axes.models import AccessAttempt
from django.conf import settings
from django.core import mail
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from accounts import throttles
from accounts.services import agent_token_create, api_key_create, user_get_or_create
from tests.base import BaseTestCase

LOGIN = reverse("accounts-login")


def fresh_ip() -> str:
    """An address no other test or run uses (IPv6 documentation prefix, 96 random bits)."""
    return str(ipaddress.IPv6Address((0x20010DB8 << 96) | secrets.randbits(96)))


def fresh_email() -> str:
    return f"{uuid.uuid4().hex}@example.org"


def api_rates(**rates):
    """REST_FRAMEWORK with these throttle rates (scope names with - as _), the others left at their settings."""
    merged = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}
    merged.update({scope.replace("_", "-"): rate for scope, rate in rates.items()})
    return {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": merged}


@override_settings(AXES_FAILURE_LIMIT=3, AXES_COOLOFF_TIME=timedelta(minutes=15))
class LoginLockoutTests(BaseTestCase):
    def log_in(self, email, password, ip):
        return self.client.post(LOGIN, {"username": email, "password": password}, REMOTE_ADDR=ip)

    def assert_logged_in(self, response):
        self.assertRedirects(response, reverse("finops-home"), fetch_redirect_response=False)

    def assert_locked_out(self, response):
        self.assertEqual(response.status_code, 429)
        self.assertContains(response, "Too many failed log-in attempts", status_code=429)
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_it_locks_the_account_after_repeated_failures(self):
        for _ in range(2):
            self.assertEqual(self.log_in("alice@example.org", "wrong", fresh_ip()).status_code, 200)
        self.assert_locked_out(self.log_in("alice@example.org", "wrong", fresh_ip()))  # the failure at the limit
        # the right password, from yet another address: the account itself is locked
        self.assert_locked_out(self.log_in("alice@example.org", self.password, fresh_ip()))
        self.assert_logged_in(self.log_in("bob@example.org", self.password, fresh_ip()))

    def test_it_locks_the_address_whatever_the_account(self):
        ip = fresh_ip()
        for email in ("nobody@example.org", "charlie@example.org", fresh_email()):
            self.log_in(email, "wrong", ip)
        self.assert_locked_out(self.log_in("bob@example.org", self.password, ip))
        self.assert_logged_in(self.log_in("bob@example.org", self.password, fresh_ip()))

    def test_it_says_when_to_try_again_on_the_login_page(self):
        for _ in range(3):
            self.log_in("alice@example.org", "wrong", fresh_ip())
        response = self.log_in("alice@example.org", "wrong", fresh_ip())
        self.assert_locked_out(response)
        ends = AccessAttempt.objects.latest("attempt_time").attempt_time + timedelta(minutes=15)
        self.assertContains(response, f"Try again in 15 minutes (after {ends:%H:%M} UTC)", status_code=429)
        self.assertContains(response, 'name="password"', status_code=429)  # the form is there to try again later
        self.assertContains(response, "alice@example.org", status_code=429)
        self.assertTrue(0 < int(response["Retry-After"]) <= 15 * 60)

    def test_it_counts_spellings_of_one_email_as_one_account(self):
        for email in ("Alice@Example.org", " ALICE@example.org", "alice@EXAMPLE.ORG"):
            self.log_in(email, "wrong", fresh_ip())
        self.assert_locked_out(self.log_in("alice@example.org", self.password, fresh_ip()))

    def test_it_lets_in_again_after_the_cool_off(self):
        for _ in range(3):
            self.log_in("alice@example.org", "wrong", fresh_ip())
        AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
        self.assert_logged_in(self.log_in("alice@example.org", self.password, fresh_ip()))

    def test_it_forgets_the_accounts_failures_after_a_success(self):
        ip = fresh_ip()
        for _ in range(2):
            self.log_in("alice@example.org", "wrong", ip)
        self.assert_logged_in(self.log_in("alice@example.org", self.password, ip))
        self.client.post(reverse("accounts-logout"))
        for _ in range(2):
            self.assertEqual(self.log_in("alice@example.org", "wrong", ip).status_code, 200)
        self.assert_logged_in(self.log_in("alice@example.org", self.password, ip))

    def test_it_keeps_failures_on_other_accounts_when_someone_logs_in(self):
        # charlie logging in from the address that guessed at alice's password must not wipe those guesses
        ip = fresh_ip()
        for _ in range(2):
            self.log_in("alice@example.org", "wrong", ip)
        self.assert_logged_in(self.log_in("charlie@example.org", self.password, ip))
        self.client.post(reverse("accounts-logout"))
        self.log_in("alice@example.org", "wrong", fresh_ip())
        self.assert_locked_out(self.log_in("alice@example.org", self.password, fresh_ip()))


@override_settings(PASSWORD_RESET_RATE_PER_EMAIL="2/day", PASSWORD_RESET_RATE_PER_IP="3/day")
class PasswordResetThrottleTests(BaseTestCase):
    def reset(self, email, ip):
        response = self.client.post(reverse("accounts-password-reset"), {"email": email}, REMOTE_ADDR=ip)
        self.assertRedirects(response, reverse("accounts-password-reset-sent"))  # the same answer, limit or not
        return response

    def test_it_sends_at_most_the_limit_to_one_email(self):
        email = fresh_email()
        user_get_or_create(email=email, password=self.password)
        for _ in range(4):
            self.reset(email, fresh_ip())
        self.assertEqual([m.to for m in mail.outbox], [[email], [email]])

    def test_it_sends_at_most_the_limit_from_one_address(self):
        ip, emails = fresh_ip(), [fresh_email() for _ in range(4)]
        for email in emails:
            user_get_or_create(email=email, password=self.password)
            self.reset(email, ip)
        self.assertEqual([m.to for m in mail.outbox], [[e] for e in emails[:3]])
        self.reset(emails[3], fresh_ip())
        self.assertEqual(mail.outbox[-1].to, [emails[3]])

    def test_it_counts_unknown_emails_too(self):
        ip = fresh_ip()
        for _ in range(3):
            self.reset(fresh_email(), ip)
        email = fresh_email()
        user_get_or_create(email=email, password=self.password)
        self.reset(email, ip)
        self.assertEqual(len(mail.outbox), 0)


@override_settings(SIGNUP_RATE_PER_IP="2/day")
class SignupThrottleTests(BaseTestCase):
    def sign_up(self, email, ip):
        return self.client.post(reverse("accounts-signup"), {"email": email, "password": "12345678"}, REMOTE_ADDR=ip)

    def test_it_refuses_sign_ups_past_the_limit_from_one_address(self):
        ip = fresh_ip()
        for _ in range(2):
            self.assertContains(self.sign_up(fresh_email(), ip), "entirely numeric")  # attempts count, valid or not
        self.client.cookies.clear()
        email = fresh_email()
        response = self.client.post(
            reverse("accounts-signup"), {"email": email, "password": "a-long-pass-phrase"}, REMOTE_ADDR=ip
        )
        self.assertContains(response, "Too many sign-up attempts from your network", status_code=429)
        self.assertTrue(0 < int(response["Retry-After"]) <= 86400)
        self.assertFalse(self.client.session.get("_auth_user_id"))
        response = self.client.post(
            reverse("accounts-signup"), {"email": email, "password": "a-long-pass-phrase"}, REMOTE_ADDR=fresh_ip()
        )
        self.assertRedirects(response, reverse("accounts-org-create"))


@override_settings(REST_FRAMEWORK=api_rates(read="2/day", write="2/day", budget_check="2/day", agent="2/day"))
class ApiThrottleTests(BaseTestCase):
    def setUp(self):
        self.read_key, self.read_raw = api_key_create(org=self.org, name="read", scope="read", created_by=self.alice)
        self.write_key, self.write_raw = api_key_create(org=self.org, name="w", scope="write", created_by=self.alice)
        _, self.other_raw = api_key_create(org=self.org, name="other", scope="read", created_by=self.alice)
        _, self.charlie_raw = api_key_create(org=self.charlies_org, name="c", scope="read", created_by=self.charlie)

    def get(self, raw, url="/api/v1/"):
        return self.client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw}")

    def post(self, raw, url, body=None):
        return self.client.post(url, json.dumps(body or {}), content_type="application/json",
                                HTTP_AUTHORIZATION=f"Bearer {raw}")  # fmt: skip

    def assert_throttled(self, response, holder):
        self.assertEqual(response.status_code, 429)
        self.assertTrue(0 < int(response["Retry-After"]) <= 86400)
        self.assertIn(f"Too many requests for {holder}", response.json()["detail"])

    def test_it_limits_each_api_key(self):
        self.assertEqual([self.get(self.read_raw).status_code for _ in range(2)], [200, 200])
        response = self.get(self.read_raw)
        self.assert_throttled(response, "this API key")
        self.assertIn("the read limit is 2 per day", response.json()["detail"])
        self.assertEqual(self.get(self.other_raw).status_code, 200)  # another key of the same org
        self.assertEqual(self.get(self.charlie_raw).status_code, 200)  # another org's key

    def test_it_counts_writes_and_budget_checks_apart_from_reads(self):
        for _ in range(2):
            self.assertEqual(self.get(self.write_raw).status_code, 200)
        self.assertEqual(self.get(self.write_raw).status_code, 429)
        for _ in range(2):
            self.assertEqual(self.post(self.write_raw, "/api/v1/agent-tokens/").status_code, 400)
        self.assert_throttled(self.post(self.write_raw, "/api/v1/agent-tokens/"), "this API key")
        for _ in range(2):
            self.assertEqual(self.post(self.write_raw, "/api/v1/budget-check/").status_code, 400)
        response = self.post(self.write_raw, "/api/v1/budget-check/")
        self.assertIn("the budget-check limit is 2 per day", response.json()["detail"])

    def test_it_limits_each_agent_token(self):
        _, raw = agent_token_create(org=self.org, host_name="gpu-box-1", created_by=self.alice)
        _, other = agent_token_create(org=self.org, host_name="gpu-box-2", created_by=self.alice)
        for _ in range(2):
            self.assertEqual(self.post(raw, "/api/v1/agent/samples/").status_code, 400)
        self.assert_throttled(self.post(raw, "/api/v1/agent/samples/"), "this agent token")
        self.assertEqual(self.post(other, "/api/v1/agent/samples/").status_code, 400)

    def test_it_limits_session_calls_per_user(self):
        for user in (self.alice, self.bob):  # user ids repeat across test databases; the cache may outlive them
            throttles.rate_limit_clear("api-read", f"user:{user.pk}", "2/day")
        url = f"/api/v1/?org={self.org.code}"
        self.client.force_login(self.alice)
        self.assertEqual([self.client.get(url).status_code for _ in range(2)], [200, 200])
        self.assert_throttled(self.client.get(url), "your account")
        self.client.force_login(self.bob)
        self.assertEqual(self.client.get(url).status_code, 200)

    @override_settings(REST_FRAMEWORK=api_rates(anon="2/day"))
    def test_it_limits_requests_without_a_valid_token_per_address(self):
        ip = fresh_ip()
        for raw in ("fk_wrong", "fk_wrong-again"):
            self.assertEqual(
                self.client.get("/api/v1/", HTTP_AUTHORIZATION=f"Bearer {raw}", REMOTE_ADDR=ip).status_code, 401
            )
        response = self.client.get("/api/v1/", REMOTE_ADDR=ip)
        self.assert_throttled(response, "your address")
        self.assertEqual(self.client.get("/api/v1/", REMOTE_ADDR=fresh_ip()).status_code, 401)


class ClientAddressTests(BaseTestCase):
    def test_it_takes_the_peer_unless_proxies_are_trusted(self):
        from django.test import RequestFactory

        request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
        self.assertEqual(throttles.client_ip(request), "10.0.0.9")  # a client cannot pick its own address
        with self.settings(NUM_PROXIES=1):
            self.assertEqual(throttles.client_ip(request), "203.0.113.7")
        with self.settings(NUM_PROXIES=5):
            self.assertEqual(throttles.client_ip(request), "6.6.6.6")


class DefaultRatesTests(BaseTestCase):
    def test_the_benchmarks_fit_the_default_rates(self):
        # bench/budget_check.py sends 4,000 checks from one key, bench/reads.py about 700 reads, and
        # bench/ingest_usage.py 100 batches of usage events; none sets a rate of its own.
        rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        per_minute = {scope: count * 60 / period for scope, (count, period) in
                      ((s, throttles.rate_parse(r)) for s, r in rates.items())}  # fmt: skip
        self.assertGreaterEqual(per_minute["budget-check"], 4000)
        self.assertGreaterEqual(per_minute["read"], 1000)
        self.assertGreaterEqual(per_minute["write"], 100)
        self.assertGreaterEqual(per_minute["agent"], 10)
