from django.apps import AppConfig


class PresetsConfig(AppConfig):
    name = "studio.presets"
    label = "presets"
