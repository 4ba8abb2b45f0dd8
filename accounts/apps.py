from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        # Registers the schema's description of the credentials with drf-spectacular.
        from accounts import schema  # noqa: F401
