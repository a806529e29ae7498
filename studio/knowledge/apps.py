from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "studio.knowledge"
    label = "knowledge"
    verbose_name = "Knowledge and behaviour"
