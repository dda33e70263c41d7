from celery import shared_task

from ingest.services.uploads import upload_run


@shared_task(acks_late=True)
def upload_import(upload_id: int) -> None:
    upload_run(upload_id=upload_id)
