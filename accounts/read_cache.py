"""Cached reads: what a read of an organisation computed is kept under the versions of the data it reads, so a warm
request answers from the cache and any change to that data reads afresh.

Two versions per organisation, each a random token in the cache, replaced (never counted up) when its data changes:

- `ECONOMICS`: what the economics reads (Founder Table, metrics, customers, plans, ledger summary, anomalies, ...) are
  computed from: the rollups and every choice of the organisation (settings, rules, commitments, rates, Stripe
  revenue, hosts, marks, budgets, prices, members...). Any saved or deleted model of an organisation replaces it
  (signals), except the models below that change all the time and reach these reads only through a recompute,
  which itself replaces it (its `RollupDay` is saved);
- `LEDGER`: the raw ledgers (calls, bill lines, agent minutes): replaced whenever a day is marked dirty, which every
  write to a ledger does.

A version is replaced when the transaction that changed the data commits, and a read made while this connection
holds uncommitted changes neither uses nor fills the cache. A read takes the versions before it reads its data, so
what it keeps is never older than the versions it is kept under. A token lost from the cache is replaced by a new
one: a lost version can only make reads miss.
"""

import hashlib
import threading
import uuid
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from functools import wraps
from pathlib import Path

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Model
from django.db.models.signals import m2m_changed, post_delete, post_save

ECONOMICS = "economics"
LEDGER = "ledger"
READ_CACHE_SECONDS = 24 * 3600
# Models written all the time that no economics read reads directly (ledgers, agent data, the rollups themselves, the
# budget checks' holds, tokens' last use, e-mails): their changes reach the economics reads through a recompute.
QUIET_MODELS = {
    "ingest.usageevent", "ingest.costline", "ingest.gpuminute", "ingest.processminute", "ingest.gpuhour",
    "ingest.agentbatch", "ingest.dirtyday", "ingest.quarantinedday", "finops.rollup", "finops.jobrollup",
    "finops.workrollup", "finops.customerrollup", "finops.budgethold", "finops.budgetreservation",
    "finops.budgetalert", "finops.digest",
    "accounts.apikey", "accounts.agenttoken", "accounts.invitation", "pricing.stripeevent", "sessions.session",
}  # fmt: skip
_quiet = threading.local()


def _code_version() -> str:
    """A hash of the project's Python code: a deploy that changes any of it starts from an empty read cache."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha1(usedforsecurity=False)
    for app in ("accounts", "finops", "ingest", "pricing"):
        for path in sorted((root / app).rglob("*.py")):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


CODE_VERSION = _code_version()
SIMPLE_VALUES = (str, int, bool, date, datetime, Decimal, type(None))


def _version_key(org_id, family: str) -> str:
    return f"readv:{family}:{org_id}"


def org_versions(org_id, families) -> tuple:
    """The current token of each family, making one for a family the cache does not hold."""
    keys = [_version_key(org_id, f) for f in families]
    found = cache.get_many(keys)
    for key in keys:
        if key not in found:
            cache.add(key, uuid.uuid4().hex, timeout=None)
            found[key] = cache.get(key)
    return tuple(found[key] for key in keys)


def org_changed(org_id, *families) -> None:
    """Replace these versions of the organisation once the current transaction commits (at once outside one)."""
    if org_id is None:
        return
    tokens = {_version_key(org_id, f): uuid.uuid4().hex for f in families}
    transaction.on_commit(lambda: cache.set_many(tokens, timeout=None))


def org_versions_forget(org_id) -> None:
    """Forget every version of the organisation at once, not on commit: for data written behind the ORM's back (the
    test suite copying its demo snapshot back in), which no signal reports. Its next reads miss and take new ones."""
    cache.delete_many([_version_key(org_id, family) for family in (ECONOMICS, LEDGER)])


@contextmanager
def quiet():
    """Saves inside this block replace no version: for writers whose data reaches the reads only through a
    recompute (the agent's batches: its host's last-seen time and energy counters are saved with each)."""
    depth = getattr(_quiet, "depth", 0)
    _quiet.depth = depth + 1
    try:
        yield
    finally:
        _quiet.depth = depth


def _plain(value) -> bool:
    if isinstance(value, tuple):
        return all(_plain(v) for v in value)
    return isinstance(value, SIMPLE_VALUES) or (isinstance(value, Model) and value.pk is not None)


def _key_part(value) -> str:
    """A model instance stands for its row (its table and primary key): the versions say when rows changed."""
    if isinstance(value, tuple):
        return "(" + ",".join(_key_part(v) for v in value) + ")"
    if isinstance(value, Model):
        return f"{value._meta.label_lower}:{value.pk}"
    return repr(value)


def _uncommitted_changes() -> bool:
    return bool(connection.in_atomic_block and connection.run_on_commit)


def cached_read(*families):
    """Decorate a read `fn(*, org, **simple keyword arguments)`: its result is kept under the organisation, the
    arguments and the versions of `families`. Arguments are plain values, tuples of them or saved model instances
    (standing for their row); a call with anything else (a precomputed object) is not cached. Keys carry
    `CODE_VERSION`, so what older code kept (another form of result) is never read back after a deploy."""

    def decorate(fn):
        name = f"{fn.__module__}.{fn.__qualname__}"

        @wraps(fn)
        def read(*, org, **kwargs):
            if not all(_plain(v) for v in kwargs.values()) or _uncommitted_changes():
                return fn(org=org, **kwargs)
            versions = org_versions(org.pk, families)  # before the data: never keep older data under newer versions
            arguments = ",".join(f"{k}={_key_part(v)}" for k, v in sorted(kwargs.items()))
            digest = hashlib.sha1(f"{name}|{arguments}".encode(), usedforsecurity=False).hexdigest()
            key = f"read:{CODE_VERSION}:{org.code}:{'.'.join(versions)}:{digest}"
            found = cache.get(key)
            if found is None:
                found = fn(org=org, **kwargs)
                cache.set(key, found, timeout=READ_CACHE_SECONDS)
            return found

        read.uncached = fn
        return read

    return decorate


def _org_id(instance):
    if instance._meta.label_lower == "accounts.organization":
        return instance.pk
    return getattr(instance, "org_id", None)


def _saved_or_deleted(sender, instance, **kwargs):
    if getattr(_quiet, "depth", 0) or sender._meta.label_lower in QUIET_MODELS or kwargs.get("raw"):
        return
    org_id = _org_id(instance)
    if org_id is not None:
        org_changed(org_id, ECONOMICS)


def _m2m_changed(sender, instance, action, **kwargs):
    if action.startswith("post_"):
        _saved_or_deleted(type(instance), instance)


def connect_signals() -> None:
    """Listen to each model of an organisation but the quiet ones, one by one: a delete listener on a ledger
    would make Django load every row it deletes instead of one `DELETE`."""
    from django.apps import apps

    for model in apps.get_models():
        label = model._meta.label_lower
        if label in QUIET_MODELS:
            continue
        if label == "accounts.organization" or any(f.name == "org" for f in model._meta.fields):
            post_save.connect(_saved_or_deleted, sender=model, dispatch_uid=f"read_cache_saved_{label}")
            post_delete.connect(_saved_or_deleted, sender=model, dispatch_uid=f"read_cache_deleted_{label}")
    m2m_changed.connect(_m2m_changed, dispatch_uid="read_cache_m2m")
