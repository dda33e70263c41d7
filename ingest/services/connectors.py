"""Connectors: an organisation's saved source that pulls its own files, through the same import as an upload.

A run lists the remote files (the plug-in, ingest/connectors), pulls each one whose version is new, hands it
to `upload_create` + `upload_run` (so a period delivered again replaces the old one and a bad file is
rejected whole, with row and column) and records what happened on the connector and its run. A refused
listing or unreadable credentials fail the run with the message and the fix, and change nothing else.
"""

import json
import logging
import tempfile
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.vault import SecretUnreadableError, secret_decrypt, secret_encrypt
from ingest.connectors import connector_source
from ingest.connectors.base import ConnectorError, ConnectorSource, RemoteFile
from ingest.models import ColumnMapping, Connector, ConnectorFile, ConnectorRun, Upload
from ingest.services.uploads import upload_create, upload_run

logger = logging.getLogger(__name__)
REENTER_FIX = "Edit the connector and enter its secret fields again."


def connector_next_run(*, hour: int, after: datetime) -> datetime:
    """The first time at `hour`:00 UTC strictly after `after`: the daily schedule."""
    after = after.astimezone(UTC)
    candidate = after.replace(hour=hour, minute=0, second=0, microsecond=0)
    return candidate if candidate > after else candidate + timedelta(days=1)


def _clean_values(source: type[ConnectorSource], values: dict, *, keep_secrets: dict | None = None):
    """(config, secrets) from the submitted values, checked against the plug-in's fields; a secret left blank
    on edit keeps the stored one."""
    config, secrets, errors = {}, {}, {}
    for field in source.fields:
        value = str(values.get(field.name) or "").strip() or field.default
        if field.secret:
            if not value and keep_secrets and keep_secrets.get(field.name):
                value = keep_secrets[field.name]
            if value:
                secrets[field.name] = value
        elif value:
            config[field.name] = value
        if field.required and not value:
            errors[field.name] = f"{field.label} is required."
    if errors:
        raise ValidationError(errors)
    return config, secrets


def _hint(source: type[ConnectorSource], secrets: dict) -> str:
    """The last four characters of the first secret, so people can tell which key is stored."""
    for field in source.fields:
        if field.secret and secrets.get(field.name):
            return f"{field.label} …{secrets[field.name][-4:]}"
    return ""


def _check_schedule(hour) -> int:
    try:
        hour = int(hour)
    except (TypeError, ValueError):
        raise ValidationError({"schedule_hour": "Choose an hour from 0 to 23."}) from None
    if not 0 <= hour <= 23:
        raise ValidationError({"schedule_hour": "Choose an hour from 0 to 23."})
    return hour


def _check_plugin(org, source: type[ConnectorSource], config: dict, secrets: dict) -> None:
    """The plug-in's own check of its settings, and the saved column mapping a `mapping` setting names."""
    name = config.get("mapping")
    if name and not ColumnMapping.objects.for_org(org).filter(name=name).exists():
        raise ValidationError({"mapping": f"No saved column mapping is called {name!r}."})
    try:
        source(config, secrets, org_code=org.code).clean()
    except ConnectorError as exc:
        raise ValidationError(" ".join(filter(None, [exc.message, exc.fix]))) from exc


@transaction.atomic
def connector_create(*, org, kind: str, name: str, values: dict, schedule_hour=6, created_by=None) -> Connector:
    """A new enabled connector of plug-in `kind`, its secret fields encrypted, first run at the next `schedule_hour`."""
    try:
        source = connector_source(kind)
    except ConnectorError as exc:
        raise ValidationError(exc.message) from exc
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Name the connector."})
    if Connector.objects.for_org(org).filter(name=name).exists():
        raise ValidationError({"name": f"A connector called {name!r} already exists."})
    config, secrets = _clean_values(source, values)
    _check_plugin(org, source, config, secrets)
    hour = _check_schedule(schedule_hour)
    try:
        with transaction.atomic():
            return Connector.objects.create(
                org=org,
                name=name[:100],
                kind=kind,
                config=config,
                secrets_encrypted=secret_encrypt(json.dumps(secrets)),
                secret_hint=_hint(source, secrets)[:40],
                schedule_hour=hour,
                next_run_at=connector_next_run(hour=hour, after=timezone.now()),
                created_by=created_by,
            )
    except IntegrityError as exc:  # the same name created at the same moment
        raise ValidationError({"name": f"A connector called {name!r} already exists."}) from exc


@transaction.atomic
def connector_update(*, org, connector: Connector, name: str, values: dict, schedule_hour, enabled=True) -> Connector:
    """The connector with new settings; a secret field left blank keeps the stored secret."""
    source = connector_source(connector.kind)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Name the connector."})
    if Connector.objects.for_org(org).filter(name=name).exclude(pk=connector.pk).exists():
        raise ValidationError({"name": f"A connector called {name!r} already exists."})
    try:
        stored = connector_secrets(connector)
    except ConnectorError:
        stored = {}  # unreadable: the edit must enter them again (the required check says which)
    config, secrets = _clean_values(source, values, keep_secrets=stored)
    _check_plugin(org, source, config, secrets)
    hour = _check_schedule(schedule_hour)
    connector.name = name[:100]
    connector.config = config
    connector.secrets_encrypted = secret_encrypt(json.dumps(secrets))
    connector.secret_hint = _hint(source, secrets)[:40]
    connector.enabled = bool(enabled)
    if hour != connector.schedule_hour or connector.next_run_at is None:
        connector.next_run_at = connector_next_run(hour=hour, after=timezone.now())
    connector.schedule_hour = hour
    connector.save()
    return connector


@transaction.atomic
def connector_delete(*, org, connector: Connector) -> None:
    """Delete the connector, its runs and its file list; what it imported stays, as its uploads."""
    Connector.objects.for_org(org).filter(pk=connector.pk).delete()


def connector_secrets(connector: Connector) -> dict:
    """The decrypted secret fields; ConnectorError asking to enter them again when they cannot be read."""
    if not connector.secrets_encrypted:
        return {}
    try:
        return json.loads(secret_decrypt(connector.secrets_encrypted))
    except SecretUnreadableError as exc:
        raise ConnectorError(str(exc), REENTER_FIX) from exc


def connector_plugin(connector: Connector) -> ConnectorSource:
    """The plug-in of this connector, holding its settings and decrypted secrets."""
    return connector_source(connector.kind)(connector.config, connector_secrets(connector), org_code=connector.org.code)


def connector_check(*, connector: Connector) -> tuple[bool, str, str]:
    """(ok, message, fix) of reaching the remote side with the saved credentials; nothing is imported."""
    try:
        return True, connector_plugin(connector).check(), ""
    except ConnectorError as exc:
        return False, exc.message, exc.fix
    except Exception:
        logger.exception("connection test of connector %s crashed", connector.pk)
        return False, "The connection test stopped on an internal error.", "Try again; we have logged it."


def _claim(connector_id) -> bool:
    """Mark the connector running unless a run holds it; a run older than the task's hard limit is taken back
    (its worker died)."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    free = ~Q(last_status=Connector.Status.RUNNING) | Q(last_run_at__lt=stale) | Q(last_run_at=None)
    return (
        Connector.objects.filter(free, pk=connector_id).update(last_status=Connector.Status.RUNNING, last_run_at=now)
        == 1
    )


def _describe_rejection(remote: RemoteFile, upload: Upload) -> str:
    """`name: row 3, column X: message` of the upload's first error."""
    first = (upload.errors or [{}])[0]
    where = [f"row {first['row']}"] if first.get("row") else []
    where += [f"column {first['column']}"] if first.get("column") else []
    more = f" (and {upload.error_count - 1} more)" if upload.error_count > 1 else ""
    return f"{remote.name}: {', '.join(where) + ': ' if where else ''}{first.get('message', 'rejected')}{more}"


def _pull(connector: Connector, source: ConnectorSource, remote: RemoteFile, mapping) -> Upload:
    """Fetch one remote file into a temporary file and import it as an upload, now."""
    with tempfile.NamedTemporaryFile(prefix="connector-", suffix="-" + remote.name[-60:]) as handle:
        source.fetch(remote, handle)
        handle.flush()
        handle.seek(0)
        upload = upload_create(
            org=connector.org,
            file=File(handle, name=remote.name),
            kind=remote.kind,
            requested_format="mapped_csv" if mapping else remote.requested_format,
            mapping=mapping,
            created_by=connector.created_by,
            enqueue=False,
        )
        # The import reads the pulled copy: on object storage it would otherwise fetch what it just stored.
        return upload_run(upload_id=upload.pk, local_path=handle.name) or upload


def connector_run(*, connector: Connector, trigger: str = ConnectorRun.Trigger.MANUAL) -> ConnectorRun | None:
    """Pull every new or changed file and import it; the run, or None when another run holds the connector."""
    if not _claim(connector.pk):
        return None
    connector.refresh_from_db()
    # A run still marked running here lost its worker (the claim was stale): say so instead of leaving it running.
    ConnectorRun.objects.for_org(connector.org).filter(connector=connector, status=ConnectorRun.Status.RUNNING).update(
        status=ConnectorRun.Status.FAILED,
        error="The worker running it stopped before it finished.",
        fix="Nothing to do: the next run pulls what it left.",
        finished_at=timezone.now(),
    )
    run = ConnectorRun.objects.create(org=connector.org, connector=connector, trigger=trigger)
    problems, fixes, rejected = [], [], []  # problems: the listing's, or a file's that could not be pulled
    try:
        source = connector_plugin(connector)
        mapping = None
        if connector.config.get("mapping"):
            mapping = ColumnMapping.objects.for_org(connector.org).filter(name=connector.config["mapping"]).first()
            if mapping is None:
                raise ConnectorError(
                    f"The column mapping {connector.config['mapping']!r} no longer exists.",
                    "Edit the connector and choose a saved mapping, or leave it blank to detect the format.",
                )
        remotes = list(source.list_files())
        held_files = ConnectorFile.objects.for_org(connector.org).filter(connector=connector).select_related("upload")
        known = {f.key: f for f in held_files}
        run.files_seen = len(remotes)
        for remote in remotes:
            held = known.get(remote.key)
            if held is not None and held.version == remote.version:
                run.files_unchanged += 1
                if held.status == ConnectorFile.Status.REJECTED:  # still the broken version: say why again
                    rejected.append(
                        _describe_rejection(remote, held.upload) if held.upload else f"{remote.name}: rejected before"
                    )
                continue
            try:
                upload = _pull(connector, source, remote, mapping)
            except ConnectorError as exc:
                problems.append(f"{remote.name}: {exc.message}")
                fixes.append(exc.fix)
                run.files_failed += 1
                continue
            except ValidationError as exc:  # upload_create refused it (empty, too large)
                problems.append(f"{remote.name}: {' '.join(exc.messages)}")
                fixes.append("Fix the file at the source; its next version is pulled by itself.")
                run.files_failed += 1
                continue
            ok = upload.status == Upload.Status.DONE
            ConnectorFile.objects.update_or_create(
                org=connector.org,
                connector=connector,
                key=remote.key[:1024],
                defaults={
                    "version": remote.version[:200],
                    "upload": upload,
                    "status": ConnectorFile.Status.IMPORTED if ok else ConnectorFile.Status.REJECTED,
                    "imported_at": timezone.now(),
                },
            )
            if ok:
                run.files_imported += 1
            else:
                rejected.append(_describe_rejection(remote, upload))
    except ConnectorError as exc:
        problems.insert(0, exc.message)
        fixes.insert(0, exc.fix)
    except Exception:
        logger.exception("run of connector %s crashed", connector.pk)
        problems.insert(0, "The run stopped on an internal error.")
        fixes.insert(0, "Run it again; we have logged it.")
    return _finish(connector, run, problems, fixes, rejected)


def _finish(connector, run, problems, fixes, rejected) -> ConnectorRun:
    run.files_failed += len(rejected)
    messages = list(problems)
    if rejected:
        messages.append(f"{len(rejected)} file{'s' * (len(rejected) != 1)} rejected: " + "; ".join(rejected))
        fixes.append(
            "Open the rejected upload for every error with its row and column; correct the file at the source "
            "(or delete it there). Its next version is pulled by itself."
        )
    run.status = (
        ConnectorRun.Status.FAILED if problems else ConnectorRun.Status.PARTIAL if rejected else ConnectorRun.Status.OK
    )
    run.error = "\n".join(messages)[:4000]
    run.fix = " ".join(dict.fromkeys(f for f in fixes if f))[:2000]
    run.finished_at = timezone.now()
    run.save()
    connector.last_status = Connector.Status.OK if run.status == ConnectorRun.Status.OK else Connector.Status.FAILED
    connector.last_error, connector.last_fix = run.error, run.fix
    connector.last_run_at = run.started_at
    connector.save(update_fields=["last_status", "last_error", "last_fix", "last_run_at"])
    return run


def connectors_due(*, now: datetime | None = None) -> list[int]:
    """Ids of the enabled connectors whose next run has come, each moved to its next day's hour so that the
    beat hands it out once."""
    now = now or timezone.now()
    due = []
    for connector in Connector.objects.filter(enabled=True, next_run_at__lte=now).only("pk", "schedule_hour"):
        following = connector_next_run(hour=connector.schedule_hour, after=now)
        if Connector.objects.filter(pk=connector.pk, next_run_at__lte=now).update(next_run_at=following) == 1:
            due.append(connector.pk)
    return due
