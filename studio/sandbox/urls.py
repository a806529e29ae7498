from django.urls import path

from studio.sandbox import views

app_name = "sandbox"
urlpatterns = [
    path("v2/conversations", views.not_ready, name="conversations"),
]
