from django.urls import path

from studio.library import views

app_name = "library"
urlpatterns = [
    path("", views.replicas, name="replicas"),
]
