from django.conf import settings
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("studio.accounts.urls")),
    path("settings/", include("studio.connection.urls")),
    path("sandbox/", include("studio.sandbox.urls")),
    path("library/", include("studio.library.urls")),
    path("presets/", include("studio.presets.urls")),
    path("knowledge/", include("studio.knowledge.urls")),
    path("hooks/documents/", include("studio.knowledge.hooks")),
    path("join/", include("studio.join.urls")),
    path("", include("studio.invites.urls")),
    path("", include("studio.conversations.urls")),
    path("monitor/", include("studio.monitor.urls")),
    path("history/", include("studio.history.urls")),
    path("usage/", include("studio.usage.urls")),
    path("admin/", admin.site.urls),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
