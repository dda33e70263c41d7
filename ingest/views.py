from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render

from accounts.selectors import agent_token_list, api_key_list
from accounts.tenancy import get_org_for_user
from ingest import selectors
from ingest.forms import ColumnMappingForm, UploadForm
from ingest.models import Upload
from ingest.periods import period_for_page
from ingest.readers import FileProblemError, open_table
from ingest.services.deletions import UploadBusyError, upload_busy, upload_delete
from ingest.services.uploads import column_mapping_create, upload_create, upload_progress, upload_reimport


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
    try:
        if not upload.file or not upload.file.storage.exists(upload.file.name):
            raise FileNotFoundError(upload.file.name)
        with open_table(upload.file.path) as table:
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
