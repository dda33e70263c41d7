from django.urls import path

from ingest import views

org_urls = [
    path("sources/", views.sources, name="ingest-sources"),
]
