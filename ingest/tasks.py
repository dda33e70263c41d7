from celery import shared_task

from ingest.services.retention import upload_files_expire as upload_files_expire_service
from ingest.services.uploads import upload_run


@shared_task(acks_late=True)
def upload_import(upload_id: int) -> None:
    upload_run(upload_id=upload_id)


@shared_task(acks_late=True)
def connector_run_task(connector_id: int, trigger: str = "schedule") -> None:
    from ingest.models import Connector
    from ingest.services.connectors import connector_run

    connector = Connector.objects.filter(pk=connector_id).select_related("org", "created_by").first()
    if connector is not None:
        connector_run(connector=connector, trigger=trigger)


@shared_task
def connectors_due() -> None:
    """Beat, every 15 minutes: one task per connector whose daily hour has come."""
    from ingest.services.connectors import connectors_due as due

    for connector_id in due():
        connector_run_task.delay(connector_id, "schedule")


@shared_task
def upload_files_expire() -> int:
    """Daily: delete source files past SOURCE_FILE_RETENTION_DAYS (the rows they loaded stay)."""
    return upload_files_expire_service()
