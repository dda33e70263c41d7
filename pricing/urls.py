from django.urls import path

from pricing import views

org_urls = [
    path("prices/", views.prices, name="pricing-prices"),
    path("settings/stripe/", views.stripe_settings, name="pricing-stripe"),
]

top_urls = [
    path("stripe/webhook/<uuid:org_code>/", views.stripe_webhook, name="pricing-stripe-webhook"),
]
