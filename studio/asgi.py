import asyncio
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
# Set Django up first: the consumers import models from the app registry.
django.setup(set_prefix=False)

from studio.lib.handlers import OneHopASGIHandler  # noqa: E402

django_asgi_app = OneHopASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from studio.routing import websocket_urlpatterns  # noqa: E402


async def lifespan(scope, receive, send):
    """Start the reconciler with the server; every process runs one, a lease picks who acts."""
    from studio.conversations.reconcile import alerts_forever, run_forever

    tasks = []
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            loop = asyncio.get_running_loop()
            tasks = [loop.create_task(run_forever()), loop.create_task(alerts_forever())]
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            for task in tasks:
                task.cancel()
            await send({"type": "lifespan.shutdown.complete"})
            return


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
        "lifespan": lifespan,
    }
)
