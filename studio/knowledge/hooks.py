"""Where Tavus posts a document's status, under the studio's /hooks/ like its other webhooks
(the sandbox calls back nothing else). No sign-in: a per-document secret in the path."""

from django.urls import path

from studio.knowledge import views

app_name = "knowledge_hooks"
urlpatterns = [
    path("<int:pk>/<str:secret>/", views.document_callback, name="callback"),
]
