r"""Benchmark: peak memory of an upload's import, for hostile files and the largest legitimate ones (issue 16).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/finops_bench .venv/bin/python bench/upload_memory.py \
        [--bill-rows 1000000] [--usage-events 1000000] [--list-items 200000] [--scale 1.0] [--only NAME]

Each file goes through the real upload path (store and hash, detect, read, parse, COPY, commit or refuse) in a
child process of its own, as a worker runs it, with the default limits; the child reports its peak RSS
(VmHWM), its RSS before the import (Django and the task modules loaded) and the outcome. Hostile files
(bench/hostile_files.py, written into bench/out/hostile/, `--scale` shrinks them) must be refused with a
clear error under 200 MiB peak; the legitimate ones (bench/ingest_bills.py's FOCUS file, bench/ingest_usage.py's
JSON-lines events, a LiteLLM JSON list) must import, within the peaks bench/README.md records.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))
HOSTILE_GOAL_MIB = 200


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finops.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "k" * 50)
    import django

    django.setup()


def _rss(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def child_import(path: str, kind: str) -> None:
    setup_django()
    import ingest.tasks  # noqa: F401 - loaded as a worker has it
    from accounts.models import Organization
    from accounts.services import org_bootstrap
    from ingest.services.uploads import upload_create_from_path, upload_run

    Organization.objects.filter(name="Memory bench").delete()
    org, _, _ = org_bootstrap(name="Memory bench", owner_email="memory@example.org")
    before = _rss("VmRSS")
    started = time.perf_counter()
    upload = upload_create_from_path(org=org, path=path, kind=kind, enqueue=False)
    upload = upload_run(upload_id=upload.pk)
    elapsed = time.perf_counter() - started
    message = upload.errors[0]["message"] if upload.errors else ""
    result = {"status": upload.status, "rows": upload.rows_loaded, "message": message, "seconds": elapsed,
              "before_mib": before, "peak_mib": _rss("VmHWM")}  # fmt: skip
    upload.file.delete(save=False)
    Organization.objects.filter(pk=org.pk).delete()
    print(json.dumps(result))


def hostile_corpus(scale: float) -> list[tuple[str, Path, str]]:
    from bench import hostile_files as hostile

    folder = OUT / "hostile"
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for name, (build, size) in hostile.HOSTILE.items():
        kind = "usage" if "JSON" in name else "bill"
        marker = folder / f".{build.__name__}-{int(size * scale)}"
        started = time.perf_counter()
        if not marker.exists():
            path = build(folder, max(1, int(size * scale)))
            marker.write_text(str(path))
            print(
                f"  wrote {path.name}: {path.stat().st_size / 2**20:,.1f} MiB in {time.perf_counter() - started:.0f}s"
            )
        files.append((name, Path(marker.read_text()), kind))
    return files


def legitimate(bill_rows: int, usage_events: int, list_items: int) -> list[tuple[str, Path, str]]:
    from bench import hostile_files as hostile
    from bench import ingest_bills, ingest_usage

    bill = ingest_bills.generate(bill_rows)
    usage, _ = ingest_usage.generate(usage_events)
    listing = OUT / f"litellm_list_{list_items}.json"
    if not listing.exists():
        listing = hostile.json_big_array(OUT, list_items).rename(listing)
    return [
        (f"FOCUS CSV, {bill_rows:,} rows (legitimate)", bill, "bill"),
        (f"usage JSON lines, {usage_events:,} events (legitimate)", usage, "usage"),
        (f"LiteLLM JSON list, {list_items:,} items (legitimate, streamed)", listing, "usage"),
    ]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bill-rows", type=int, default=1_000_000)
    parser.add_argument("--usage-events", type=int, default=1_000_000)
    parser.add_argument("--list-items", type=int, default=200_000)
    parser.add_argument("--scale", type=float, default=1.0, help="size of the hostile files against full size")
    parser.add_argument("--only", help="run only the files whose name contains this")
    parser.add_argument("--child-import", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_import:
        child_import(*args.child_import)
        return
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database.")
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    files = hostile_corpus(args.scale) + legitimate(args.bill_rows, args.usage_events, args.list_items)
    print(f"{'file':<58} {'size':>10} {'outcome':<8} {'rows':>9} {'time':>7} {'base':>6} {'peak':>6}  message")
    failures = 0
    for name, path, kind in files:
        if args.only and args.only.lower() not in name.lower():
            continue
        child = subprocess.run([sys.executable, __file__, "--child-import", str(path), kind],
                               capture_output=True, text=True, check=False)  # fmt: skip
        try:
            result = json.loads(child.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            print(f"{name:<58} child crashed (exit {child.returncode}): {child.stderr.strip()[-300:]}")
            failures += 1
            continue
        legit = "legitimate" in name
        ok = (
            result["status"] == "done"
            if legit
            else (result["status"] == "failed" and result["peak_mib"] < HOSTILE_GOAL_MIB)
        )
        failures += not ok
        print(
            f"{name:<58} {path.stat().st_size / 2**20:>6.1f} MiB {result['status']:<8} {result['rows']:>9,} "
            f"{result['seconds']:>6.1f}s {result['before_mib']:>4.0f}M {result['peak_mib']:>4.0f}M  "
            f"{'' if ok else 'FAIL '}{result['message'][:110]}"
        )
    print(f"hostile goal: refused, peak < {HOSTILE_GOAL_MIB} MiB; legitimate: imported. {failures} not met.")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
