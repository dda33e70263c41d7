"""The demo organisation's figures as the API reports them, in one canonical JSON and its SHA-256.

Run it at two commits on the same day (the demo is built relative to today) to show that a change moved no
figure: ledger summary, Founder Table, weekly metrics, customer and plan economics, anomalies, forecast, hosts,
usage summary and reconciliation, for every week of the demo and the month, plus the Founder Table page's text.
Identifiers that differ per build (UUIDs, keys, timestamps of the build) are masked.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/finops_figures python bench/demo_figures.py [--out FILE]
"""

import argparse
import hashlib
import json
import os
import re
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402

MASKS = (
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?"), "<time>"),
    (re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"'), "<csrf>"),
    (re.compile(r"nonce=\"[^\"]+\""), "<nonce>"),
)
ENDPOINTS = (
    "ledger/summary/",
    "founder-table/",
    "metrics/weekly/",
    "economics/customers/",
    "economics/plans/",
    "hosts/",
    "usage/summary/",
    "reconciliation/",
)
MONTHLY = ("anomalies/", "forecast/")


def masked(text: str) -> str:
    for pattern, mask in MASKS:
        text = pattern.sub(mask, text)
    return text


def figures() -> dict:
    from finops.services.demo import demo_org_recreate

    demo = demo_org_recreate()
    api = Client(headers={"authorization": f"Bearer {demo['api_key']}"})
    today = timezone.now().date()
    monday = today - timedelta(days=today.weekday())
    weeks = [monday - timedelta(weeks=n) for n in range(7)]
    out = {}
    for week in weeks:
        label = f"{week.isocalendar()[0]}-W{week.isocalendar()[1]:02d}"
        for endpoint in ENDPOINTS:
            response = api.get(f"/api/v1/{endpoint}", {"week": label})
            out[f"{endpoint}?week={label}"] = [response.status_code, json.loads(masked(response.content.decode()))]
    for endpoint in MONTHLY:
        response = api.get(f"/api/v1/{endpoint}")
        out[endpoint] = [response.status_code, json.loads(masked(response.content.decode()))]
    from django.contrib.auth import get_user_model

    browser = Client()
    browser.force_login(get_user_model().objects.get(email=demo["login"]))
    for week in weeks[:3]:
        label = f"{week.isocalendar()[0]}-W{week.isocalendar()[1]:02d}"
        page = browser.get(f"/o/{demo['org']}/", {"week": label})
        text = re.sub(r"<[^>]+>", " ", page.content.decode())
        out[f"page?week={label}"] = [page.status_code, " ".join(masked(text).split())]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="write the canonical JSON here")
    args = parser.parse_args()
    setup_test_environment()
    call_command("migrate", verbosity=0)
    result = figures()
    text = json.dumps(result, sort_keys=True, indent=1)
    if args.out:
        Path(args.out).write_text(text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    print(f"{len(result)} responses from {connection.settings_dict['NAME']}; sha256 {digest}")


if __name__ == "__main__":
    main()
