from django.urls import path

from studio.conversations.consumers import ConversationConsumer, MonitorConsumer

websocket_urlpatterns = [
    path("ws/conversations/<int:pk>/", ConversationConsumer.as_asgi()),
    path("ws/monitor/", MonitorConsumer.as_asgi()),
]
