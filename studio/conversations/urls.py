from django.urls import path

from studio.conversations import views

urlpatterns = [
    path("launch/", views.launch, name="launch"),
    path("live/", views.live, name="live"),
    path("monitor/", views.monitor, name="monitor"),
    path("history/", views.history, name="history"),
]
