"""Rules of CONVENTIONS.md that a grep can hold: no raw `.objects.` in views or API modules."""

from pathlib import Path

from django.test import SimpleTestCase

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "ingest", "pricing", "finops")
# Project-level modules every app may use (the money column and rounding), like settings.
SHARED_PROJECT_MODULES = ("from finops.money import", "from finops import money")
# Lookups and computations that never write: their app's writes (raw SQL on the ledger included) are services.
READ_ONLY_MODULES = ("pricing/catalogue.py", "pricing/formula.py", "pricing/arrow_pricing.py")
WRITES = ("connection", "transaction", "execute(", ".save(", ".delete(", ".create(", ".update(", "bulk_")
# Pure code: no Django, no ORM, no database (tested without one).
PURE_MODULES = ("pricing/formula.py",)
IMPURE = ("import django", "from django", ".objects", "from accounts", "from ingest", "models import")


def lines_containing(paths, words) -> list[str]:
    """`path:number: line` for each line of the files (paths relative to ROOT) that contains one of `words`."""
    return [
        f"{path}:{number}: {line.strip()}"
        for path in paths
        for number, line in enumerate((ROOT / path).read_text().splitlines(), 1)
        if any(word in line for word in words)
    ]


class HouseRulesTests(SimpleTestCase):
    def test_it_finds_no_objects_in_views_or_api(self):
        paths = [
            path.relative_to(ROOT)
            for app in APPS
            for path in (ROOT / app).rglob("*.py")
            if path.name in {"views.py", "api.py"} or path.parent.name in {"views", "api"}
        ]
        self.assertEqual(lines_containing(paths, (".objects.",)), [], "read through selectors (org-scoped) instead")

    def test_it_keeps_the_agent_free_of_the_project(self):
        agent = ROOT / "ingest" / "agent"
        for path in agent.rglob("*.py") if agent.exists() else []:
            text = path.read_text()
            for forbidden in ("import django", "from django", "from accounts", "from ingest", "from finops"):
                self.assertNotIn(forbidden, text, f"{path.name} must not import the project")

    def test_it_keeps_dependencies_pointing_one_way(self):
        # accounts <- ingest <- pricing <- finops: a lower app never imports a higher one.
        higher = {"accounts": ("ingest", "pricing", "finops"), "ingest": ("pricing", "finops"), "pricing": ("finops",)}
        offenders = []
        for app, forbidden in higher.items():
            for path in (ROOT / app).rglob("*.py"):
                for line in path.read_text().splitlines():
                    stripped = line.strip()
                    if stripped.startswith(SHARED_PROJECT_MODULES):
                        continue
                    if any(stripped.startswith((f"from {f}", f"import {f}")) for f in forbidden):
                        offenders.append(f"{path.relative_to(ROOT)}: {stripped}")
        self.assertEqual(offenders, [])

    def test_it_keeps_writes_in_services(self):
        self.assertEqual(lines_containing(READ_ONLY_MODULES, WRITES), [], "writes belong in the app's services")

    def test_it_keeps_pure_modules_pure(self):
        self.assertEqual(lines_containing(PURE_MODULES, IMPURE), [], "pure modules compute from their arguments only")
