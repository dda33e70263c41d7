from django.urls import path

from ingest import views

org_urls = [
    path("sources/", views.sources, name="ingest-sources"),
    path("sources/uploads/<uuid:code>/", views.upload_detail, name="ingest-upload"),
    path("sources/uploads/<uuid:code>/map/", views.mapping_create, name="ingest-mapping-create"),
    path("sources/uploads/<uuid:code>/delete/", views.upload_remove, name="ingest-upload-delete"),
    path("sources/reconciliation/", views.reconciliation, name="ingest-reconciliation"),
]
