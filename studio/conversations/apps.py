from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "studio.conversations"
    label = "conversations"

    def ready(self):
        # Signals that keep derived data in step whoever writes the rows (consumers, webhooks,
        # the reconciler): review keeps each conversation's count of missed objectives (the
        # history filters on it), search the transcript index of captions and transcripts,
        # usage drops the usage figures kept for periods a changed conversation overlaps.
        import studio.conversations.review  # noqa: F401
        import studio.conversations.search  # noqa: F401
        import studio.conversations.usage  # noqa: F401
