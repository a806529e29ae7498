"""With a real Tavus key the sandbox does not exist: every /sandbox/ address is a 404."""

from django.http import Http404

from studio.sandbox.host import host

PREFIX = "/sandbox/"


class SandboxOnlyInSandboxMode:
    """The sandbox answers only while the studio runs on it (see host.py).

    A middleware, not a conditional include in the URLconf, so the answer follows the mode the
    studio is in now rather than the one it started in."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(PREFIX) and not host().serving:
            raise Http404("There is no sandbox: this studio talks to Tavus.")
        return self.get_response(request)
