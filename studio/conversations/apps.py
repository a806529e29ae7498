from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "studio.conversations"
    label = "conversations"
