from django.urls import path

from ingest import views

org_urls = [
    path("sources/", views.sources, name="ingest-sources"),
    path("sources/uploads/<uuid:code>/", views.upload_detail, name="ingest-upload"),
    path("sources/uploads/<uuid:code>/map/", views.mapping_create, name="ingest-mapping-create"),
    path("sources/uploads/<uuid:code>/delete/", views.upload_remove, name="ingest-upload-delete"),
    path("sources/reconciliation/", views.reconciliation, name="ingest-reconciliation"),
    path("connectors/", views.connectors, name="ingest-connectors"),
    path("connectors/new/<slug:kind>/", views.connector_create_view, name="ingest-connector-create"),
    path("connectors/<uuid:code>/", views.connector_detail, name="ingest-connector"),
    path("connectors/<uuid:code>/edit/", views.connector_edit, name="ingest-connector-edit"),
    path("connectors/<uuid:code>/test/", views.connector_test, name="ingest-connector-test"),
    path("connectors/<uuid:code>/run/", views.connector_run_now, name="ingest-connector-run"),
    path("connectors/<uuid:code>/delete/", views.connector_remove, name="ingest-connector-delete"),
]
