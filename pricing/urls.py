from django.urls import path

from pricing import views

org_urls = [
    path("prices/", views.prices, name="pricing-prices"),
]
