from django.urls import path

from studio.join.consumers import JoinConsumer

websocket_urlpatterns = [
    path("ws/join/<str:token>/", JoinConsumer.as_asgi()),
]
