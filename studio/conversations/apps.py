from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "studio.conversations"
    label = "conversations"

    def ready(self):
        # Keeps the transcript search index in step with captions and final transcripts,
        # whoever writes them (consumers, webhooks, the reconciler).
        import studio.conversations.search  # noqa: F401
