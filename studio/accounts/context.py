from django.conf import settings

from studio.accounts.roles import role_of
from studio.connection import current


def shell(request):
    """What every page's header needs: the user's role and which Tavus we talk to."""
    return {
        "studio_role": role_of(request.user) if hasattr(request, "user") else None,
        "tavus_mode": current.mode(),
        "organisation_name": settings.ORGANISATION_NAME,
    }
