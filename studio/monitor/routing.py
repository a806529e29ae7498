from django.urls import path

from studio.monitor.consumers import MonitorConsumer

websocket_urlpatterns = [
    path("ws/monitor/", MonitorConsumer.as_asgi()),
]
