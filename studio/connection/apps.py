from django.apps import AppConfig


class ConnectionConfig(AppConfig):
    name = "studio.connection"
    label = "connection"
    verbose_name = "Tavus connection"
