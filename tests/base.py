"""Three actors, as in every test here: alice owns org A, bob views org A, charlie owns org B."""

import os
from pathlib import Path

import pytest
from django.test import TestCase

from accounts.models import Membership, Organization, Role
from accounts.services import org_create, user_get_or_create

SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "samples"


class BaseTestCase(TestCase):
    password = "correct-horse-battery-staple"

    @classmethod
    def setUpTestData(cls):
        cls.alice, _ = user_get_or_create(email="alice@example.org", password=cls.password)
        cls.bob, _ = user_get_or_create(email="bob@example.org", password=cls.password)
        cls.charlie, _ = user_get_or_create(email="charlie@example.org", password=cls.password)
        cls.org = org_create(name="Alice AI", owner=cls.alice)
        cls.org.memberships.create(user=cls.bob, role=Role.VIEWER)
        cls.charlies_org = org_create(name="Charlie Labs", owner=cls.charlie)


class DemoTestCase(BaseTestCase):
    """alice, bob and charlie beside the demo organisation "Demo AI" (tests/demo.py), which bob can view:
    `demo` ({org, login, password, api_key}) and `demo_org`."""

    @classmethod
    def setUpTestData(cls):
        from tests.demo import demo_org

        super().setUpTestData()
        cls.demo = demo_org()
        cls.demo_org = Organization.objects.get(code=cls.demo["org"])
        Membership.objects.create(org=cls.demo_org, user=cls.bob, role=Role.VIEWER)


def sample_path(relative: str) -> Path:
    """A file of ../shared/samples: skipped with the reason when the folder is absent, failing under CI."""
    path = SAMPLES / relative
    if not path.exists():
        message = f"shared sample {relative} not found at {SAMPLES}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must have ../shared beside the clone)")
        pytest.skip(message)
    return path
