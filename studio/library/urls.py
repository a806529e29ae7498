from django.urls import path

from studio.library import views

app_name = "library"
urlpatterns = [
    path("", views.replicas, name="replicas"),
    path("sync/", views.replicas_sync, name="replicas_sync"),
    path("personas/", views.personas, name="personas"),
    path("personas/sync/", views.personas_sync, name="personas_sync"),
    path("personas/new/", views.persona_new, name="persona_new"),
    path("personas/<int:pk>/", views.persona_detail, name="persona_detail"),
    path("personas/<int:pk>/edit/", views.persona_edit, name="persona_edit"),
    path("personas/<int:pk>/delete/", views.persona_delete, name="persona_delete"),
]
