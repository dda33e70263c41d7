"""Pricing an upload's calls in SQL gives exactly the costs the row-by-row pricer gives."""

import json
import unittest
from unittest import mock

from django.db import connection

from ingest.models import UsageEvent
from pricing import catalogue
from tests.ingest.test_bill_uploads import UploadTestCase

MODELS = [("openai", "gpt-4o-mini"), ("openai", "gpt-4o"), ("anthropic", "claude-haiku-4-5"),
          ("anthropic", "claude-sonnet-4-5"), ("google", "gemini-1.5-pro"), ("self-hosted", "ft")]  # fmt: skip


def usage_file(prefix: str) -> bytes:
    lines = []
    for i in range(240):
        provider, model = MODELS[i % len(MODELS)]
        event = {
            "event_id": f"{prefix}-{i}",
            "timestamp": f"2026-10-{1 + i % 5:02d}T{i % 24:02d}:00:00Z",
            "provider": provider,
            "model": model,
            "input_tokens": (i * 977) % 250_000,  # some above long-context thresholds
            "output_tokens": None if i % 13 == 0 else 37 * i,
            "cached_input_tokens": (i % 4) * 1024,
            "cache_write_tokens": 128 if i % 7 == 0 else None,
        }
        if i % 17 == 0:
            event = {k: v for k, v in event.items() if not k.endswith("_tokens")}
        lines.append(json.dumps(event))
    return "\n".join(lines).encode()


@unittest.skipUnless(connection.vendor == "postgresql", "SQL pricing runs on PostgreSQL only")
class SqlPricingTests(UploadTestCase):
    def costs(self, prefix):
        rows = UsageEvent.objects.filter(event_id__startswith=prefix).order_by("source_row")
        return [(r.provider, r.model, r.cost_amount, r.currency, r.cost_source) for r in rows]

    def test_it_prices_like_the_row_pricer(self):
        priced_in_sql = []
        real = catalogue._price_plain_groups_in_sql

        def spy(*args, **kwargs):
            priced_in_sql.append(real(*args, **kwargs))
            return priced_in_sql[-1]

        with mock.patch.object(catalogue, "_price_plain_groups_in_sql", spy):
            self.upload("a.jsonl", usage_file("a"), kind="usage")
        with mock.patch.object(catalogue, "_price_plain_groups_in_sql", return_value=0):
            self.upload("b.jsonl", usage_file("b"), kind="usage")
        self.assertGreater(priced_in_sql[0], 100)
        self.assertEqual(self.costs("a"), self.costs("b"))
        sources = {row[4] for row in self.costs("a")}
        self.assertEqual(sources, {"catalogue", "unpriced"})
