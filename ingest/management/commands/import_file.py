from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.management import command_org
from ingest.models import Upload
from ingest.services.uploads import upload_create_from_path, upload_run


class Command(BaseCommand):
    help = "Import a file through the same path as an upload; exits non-zero with row/column errors if rejected."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--org", required=True, help="organisation code")
        parser.add_argument("--kind", required=True, choices=[k.value for k in Upload.Kind])
        parser.add_argument("--format", default="", help="source format; detected from the header when absent")

    def handle(self, *args, path, org, kind, **options):
        organization = command_org(org)
        try:
            upload = upload_create_from_path(
                org=organization, path=path, kind=kind, requested_format=options["format"], enqueue=False
            )
        except (OSError, ValidationError) as exc:
            raise CommandError(str(exc)) from exc
        upload = upload_run(upload_id=upload.pk)
        if upload.status != Upload.Status.DONE:
            lines = [f"row {e['row'] or '-'}, column {e['column'] or '-'}: {e['message']}" for e in upload.errors]
            more = upload.error_count - len(upload.errors)
            raise CommandError(
                f"{upload.original_name} rejected, nothing loaded:\n  "
                + "\n  ".join(lines)
                + (f"\n  ... and {more} more" if more > 0 else "")
            )
        start, end = upload.period_start, upload.period_end
        period = f"{start:%Y-%m-%d} to {end:%Y-%m-%d}" if start else "no rows"
        if upload.kind == Upload.Kind.USAGE:
            loaded = f"{upload.rows_loaded} new events ({upload.rows_duplicate} already held)"
        elif upload.kind == Upload.Kind.REVENUE:
            paid = ", ".join(f"{total} {currency} paid" for currency, total in upload.totals.items())
            loaded = f"{upload.rows_loaded} Stripe objects stored ({upload.rows_duplicate} held newer)"
            loaded += f", {paid}" if paid else ""
        else:
            totals = ", ".join(f"{total} {currency}" for currency, total in upload.totals.items()) or "nothing billed"
            loaded = f"{upload.rows_loaded} lines loaded ({upload.rows_replaced} replaced), {totals}"
        self.stdout.write(f"{upload.original_name}: {upload.format}, {loaded}, {period}")
