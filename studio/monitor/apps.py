from django.apps import AppConfig


class MonitorConfig(AppConfig):
    name = "studio.monitor"
    label = "monitor"
