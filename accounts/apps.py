from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self):
        from accounts import schema  # noqa: F401 - registers the OpenAPI bearer scheme
        from accounts.read_cache import connect_signals

        connect_signals()  # every app's models are loaded before any ready()
