from django.urls import path

from studio.connection import views

app_name = "connection"
urlpatterns = [
    path("", views.settings_page, name="settings"),
]
