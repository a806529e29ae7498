from studio.conversations.routing import websocket_urlpatterns as conversation_routes
from studio.join.routing import websocket_urlpatterns as join_routes
from studio.monitor.routing import websocket_urlpatterns as monitor_routes

websocket_urlpatterns = [*conversation_routes, *monitor_routes, *join_routes]
