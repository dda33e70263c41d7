from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.selectors import agent_token_list, api_key_list
from accounts.tenancy import get_org_for_user
from ingest import selectors
from ingest.connectors import CONNECTORS, CONNECTORS_BY_KIND
from ingest.forms import ColumnMappingForm, ConnectorForm, UploadForm
from ingest.models import Connector, ConnectorRun, Upload
from ingest.periods import period_for_page
from ingest.readers import FileProblemError, open_table
from ingest.services.connectors import connector_check, connector_create, connector_delete, connector_update
from ingest.services.deletions import UploadBusyError, upload_busy, upload_delete
from ingest.services.upload_files import source_file_gone_message, upload_local_path
from ingest.services.uploads import column_mapping_create, upload_create, upload_progress, upload_reimport
from ingest.tasks import connector_run_task


@login_required
def sources(request, org_code):
    """The four inputs, the bill upload form and every upload with its result."""
    org = get_org_for_user(request, org_code, write=request.method == "POST")
    mappings = list(selectors.column_mapping_list(org=org))
    form = UploadForm(request.POST or None, request.FILES or None, mappings=mappings)
    if request.method == "POST" and form.is_valid():
        mapping = next((m for m in mappings if str(m.code) == form.cleaned_data["mapping"]), None)
        try:
            upload = upload_create(
                org=org,
                file=form.cleaned_data["file"],
                kind=form.cleaned_data["kind"],
                requested_format="mapped_csv" if mapping else form.cleaned_data["format"],
                mapping=mapping,
                created_by=request.user,
            )
        except ValidationError as exc:
            form.add_error("file", exc)
        else:
            return redirect("ingest-upload", org_code=org.code, code=upload.code)
    uploads = list(selectors.upload_list(org=org)[:50])
    context = {
        "org": org,
        "page": "sources",
        "form": form,
        "uploads": uploads,
        "mappings": mappings,
        "bills_loaded": any(u.status == Upload.Status.DONE and u.kind == Upload.Kind.BILL for u in uploads),
        "usage_loaded": selectors.usage_event_list(org=org).exists(),
        "active_agent_tokens": agent_token_list(org=org).filter(revoked_at=None).count(),
        "active_api_keys": api_key_list(org=org).filter(revoked_at=None).count(),
        "quarantined_days": selectors.quarantined_day_list(org=org),
    }
    return render(request, "ingest/sources.html", context)


@login_required
def upload_detail(request, org_code, code):
    """One upload: progress while it runs, then its period, totals, errors and first ledger lines."""
    org = get_org_for_user(request, org_code)
    upload = get_object_or_404(Upload, org=org, code=code)
    context = {
        "org": org,
        "page": "sources",
        "upload": upload,
        "rows_read": upload_progress(upload),
        "running": upload.status in (Upload.Status.QUEUED, Upload.Status.PROCESSING),
        "lines": selectors.upload_ledger_lines(org=org, upload=upload) if upload.status == Upload.Status.DONE else [],
        "events": selectors.upload_usage_events(org=org, upload=upload) if upload.kind == Upload.Kind.USAGE else [],
        "unrecognised": upload.status == Upload.Status.FAILED and not upload.format,
        # An empty file name marks a source file removed by retention (ingest/services/retention.py).
        "file_removed": not upload.file,
        "retention_days": settings.SOURCE_FILE_RETENTION_DAYS,
    }
    return render(request, "ingest/upload_detail.html", context)


@login_required
def upload_remove(request, org_code, code):
    """Delete an upload and every row it loaded: first what will go (rows and days), then the confirmed POST."""
    org = get_org_for_user(request, org_code, write=True)
    upload = get_object_or_404(Upload, org=org, code=code)
    if request.method == "POST":
        try:
            deleted = upload_delete(org=org, upload=upload)
        except UploadBusyError as exc:
            messages.error(request, str(exc))
            return redirect("ingest-upload", org_code=org.code, code=upload.code)
        except Upload.DoesNotExist as exc:
            raise Http404 from exc
        rows = deleted["cost_lines"] + deleted["usage_events"] + deleted["commitments"] + deleted["stripe_objects"]
        days = len(deleted["days"])
        messages.success(
            request,
            f"Deleted {upload.original_name or 'the upload'} and its {rows} row{'s' * (rows != 1)}; "
            f"{days} day{'s' * (days != 1)} of rollups will be recomputed.",
        )
        return redirect("ingest-sources", org_code=org.code)
    context = {
        "org": org,
        "page": "sources",
        "upload": upload,
        "busy": upload_busy(upload),
        "contents": selectors.upload_contents(org=org, upload=upload),
    }
    return render(request, "ingest/upload_delete.html", context)


@login_required
def mapping_create(request, org_code, code):
    """Map the columns of an upload whose format we could not recognise, save the mapping, import again."""
    org = get_org_for_user(request, org_code, write=request.method == "POST")
    upload = get_object_or_404(Upload, org=org, code=code)
    if not upload.file:
        messages.error(request, source_file_gone_message(upload, then="Upload the file again to map it."))
        return redirect("ingest-upload", org_code=org.code, code=upload.code)
    try:
        if not upload.file.storage.exists(upload.file.name):
            raise FileNotFoundError(upload.file.name)
        with upload_local_path(upload) as path, open_table(path) as table:
            columns = table.columns
    except FileProblemError as exc:
        messages.error(request, str(exc))
        return redirect("ingest-upload", org_code=org.code, code=upload.code)
    except OSError:  # the stored file is gone (deleted, or storage moved) or cannot be opened
        messages.error(
            request,
            f"The file of this upload ({upload.original_name or 'unnamed'}) is no longer stored or cannot be "
            "opened, so its columns cannot be mapped. Upload the file again to map it.",
        )
        return redirect("ingest-upload", org_code=org.code, code=upload.code)
    form = ColumnMappingForm(request.POST or None, columns=columns, initial={"currency": org.currency})
    if request.method == "POST" and form.is_valid():
        try:
            mapping = column_mapping_create(
                org=org,
                name=form.cleaned_data["name"],
                provider=form.cleaned_data["provider"],
                currency=form.cleaned_data["currency"],
                columns=form.mapping_columns(),
            )
        except ValidationError as exc:
            form.add_error("name", exc)
        else:
            again = upload_reimport(org=org, upload=upload, mapping=mapping, created_by=request.user)
            messages.success(
                request, f"Mapping “{mapping.name}” saved; files with these columns now import by themselves."
            )
            return redirect("ingest-upload", org_code=org.code, code=again.code)
    context = {"org": org, "page": "sources", "upload": upload, "form": form, "columns": columns}
    return render(request, "ingest/mapping_create.html", context)


@login_required
def reconciliation(request, org_code):
    """Token spend: logged calls against each provider's bill for a period (a month, usually), and the
    unattributed gap."""
    org = get_org_for_user(request, org_code)
    period, period_error = period_for_page(request, tz=org.timezone)
    since, until = period.bounds()
    context = {
        "org": org,
        "page": "sources",
        "period": period,
        "period_error": period_error,
        "rows": selectors.reconciliation(org=org, start=since, end=until),
        "summary": selectors.usage_summary(org=org, start=since, end=until),
    }
    return render(request, "ingest/reconciliation.html", context, status=400 if period_error else 200)


AGENT_FILE = Path(__file__).resolve().parent / "agent" / "finops_agent.py"
AGENT_UNIT = Path(__file__).resolve().parent / "agent" / "finops-agent.service"


def agent_download(request, name):
    """The GPU host agent and its systemd unit, served so a host can fetch them with curl (public code)."""
    path = {"finops_agent.py": AGENT_FILE, "finops-agent.service": AGENT_UNIT}.get(name)
    if path is None or not path.exists():
        raise Http404
    return FileResponse(open(path, "rb"), as_attachment=True, filename=name, content_type="text/plain")


def _connector_form_errors(form, exc: ValidationError) -> None:
    """A service's ValidationError on the form: per field where it names one, else on the whole form."""
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc)


@login_required
def connectors(request, org_code):
    """The organisation's connectors with their status, and one 'Connect' per plug-in kind."""
    org = get_org_for_user(request, org_code)
    context = {
        "org": org,
        "page": "connectors",
        "connectors": [
            (c, getattr(CONNECTORS_BY_KIND.get(c.kind), "label", c.kind)) for c in selectors.connector_list(org=org)
        ],
        # Plain values: a template calls what is callable, and the plug-ins are classes.
        "kinds": [{"kind": s.kind, "label": s.label, "help": s.help} for s in CONNECTORS],
    }
    return render(request, "ingest/connectors.html", context)


@login_required
def connector_create_view(request, org_code, kind):
    """The form of a new connector of one plug-in kind."""
    org = get_org_for_user(request, org_code, write=True)
    source = CONNECTORS_BY_KIND.get(kind)
    if source is None:
        raise Http404
    form = ConnectorForm(request.POST or None, source=source)
    if request.method == "POST" and form.is_valid():
        try:
            connector = connector_create(
                org=org,
                kind=kind,
                name=form.cleaned_data["name"],
                values=form.values(),
                schedule_hour=form.cleaned_data["schedule_hour"],
                created_by=request.user,
            )
        except ValidationError as exc:
            _connector_form_errors(form, exc)
        else:
            messages.success(request, f"Saved “{connector.name}”. Test the connection, then run it.")
            return redirect("ingest-connector", org_code=org.code, code=connector.code)
    context = {"org": org, "page": "connectors", "form": form, "source": source, "connector": None,
               "external_id": source.external_id(org.code)}  # fmt: skip
    return render(request, "ingest/connector_form.html", context)


@login_required
def connector_detail(request, org_code, code):
    """One connector: its settings (never its secrets), status, next run, the latest runs and the files pulled."""
    org = get_org_for_user(request, org_code)
    connector = get_object_or_404(Connector, org=org, code=code)
    source = CONNECTORS_BY_KIND.get(connector.kind)
    settings_shown = [
        (field.label, connector.config.get(field.name, ""))
        for field in (source.fields if source else ())
        if not field.secret
    ]
    context = {
        "org": org,
        "page": "connectors",
        "connector": connector,
        "source": source,
        "settings_shown": settings_shown,
        "runs": selectors.connector_runs(org=org, connector=connector),
        "files": selectors.connector_files(org=org, connector=connector),
    }
    return render(request, "ingest/connector_detail.html", context)


@login_required
def connector_edit(request, org_code, code):
    """Change a connector's settings; secret fields left blank keep the stored secrets."""
    org = get_org_for_user(request, org_code, write=True)
    connector = get_object_or_404(Connector, org=org, code=code)
    source = CONNECTORS_BY_KIND.get(connector.kind)
    if source is None:
        raise Http404
    initial = {"name": connector.name, "schedule_hour": connector.schedule_hour, "enabled": connector.enabled}
    initial.update({f.name: connector.config.get(f.name, "") for f in source.fields if not f.secret})
    form = ConnectorForm(request.POST or None, source=source, editing=True, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            connector_update(
                org=org,
                connector=connector,
                name=form.cleaned_data["name"],
                values=form.values(),
                schedule_hour=form.cleaned_data["schedule_hour"],
                enabled=form.cleaned_data["enabled"],
            )
        except ValidationError as exc:
            _connector_form_errors(form, exc)
        else:
            messages.success(request, "Settings saved.")
            return redirect("ingest-connector", org_code=org.code, code=connector.code)
    context = {"org": org, "page": "connectors", "form": form, "source": source, "connector": connector,
               "external_id": source.external_id(org.code)}  # fmt: skip
    return render(request, "ingest/connector_form.html", context)


@login_required
@require_POST
def connector_test(request, org_code, code):
    """Reach the remote side with the saved credentials and say what was found (or what to fix)."""
    org = get_org_for_user(request, org_code, write=True)
    connector = get_object_or_404(Connector, org=org, code=code)
    ok, message, fix = connector_check(connector=connector)
    if ok:
        messages.success(request, message)
    else:
        messages.error(request, f"{message} {fix}".strip())
    return redirect("ingest-connector", org_code=org.code, code=connector.code)


@login_required
@require_POST
def connector_run_now(request, org_code, code):
    """Queue a run now (inline where Celery is eager, as in the embedded mode)."""
    org = get_org_for_user(request, org_code, write=True)
    connector = get_object_or_404(Connector, org=org, code=code)
    connector_run_task.delay(connector.pk, ConnectorRun.Trigger.MANUAL)
    messages.info(request, "Run started; this page shows it when it is done.")
    return redirect("ingest-connector", org_code=org.code, code=connector.code)


@login_required
@require_POST
def connector_remove(request, org_code, code):
    """Delete a connector (the page asks first); what it imported stays, as uploads."""
    org = get_org_for_user(request, org_code, write=True)
    connector = get_object_or_404(Connector, org=org, code=code)
    connector_delete(org=org, connector=connector)
    messages.success(request, f"Deleted “{connector.name}”. The files it imported stay, as uploads.")
    return redirect("ingest-connectors", org_code=org.code)
