from django.apps import AppConfig


class JoinConfig(AppConfig):
    name = "studio.join"
    label = "join"
