import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
# Set Django up first: the consumers import models from the app registry.
django.setup(set_prefix=False)

from studio.lib.logs import redact_server_logs  # noqa: E402

# uvicorn set up its loggers before importing this module; secrets leave its lines too.
redact_server_logs()

from studio.lib.handlers import OneHopASGIHandler  # noqa: E402

django_asgi_app = OneHopASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from studio.connection import current  # noqa: E402
from studio.conversations import jobs  # noqa: E402
from studio.lib.origins import ExactOriginValidator  # noqa: E402
from studio.routing import websocket_urlpatterns  # noqa: E402


async def lifespan(scope, receive, send):
    """Start the background jobs with the server (studio.conversations.jobs lists them); every
    process runs them, a lease per job picks who acts."""
    tasks = []
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            tasks = jobs.start()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            for task in tasks:
                task.cancel()
            await send({"type": "lifespan.shutdown.complete"})
            return


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": ExactOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns)), public_url=current.public_url
        ),
        "lifespan": lifespan,
    }
)
