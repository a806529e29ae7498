from django.urls import path

from studio.monitor import views

app_name = "monitor"

urlpatterns = [
    path("", views.monitor_page, name="page"),
]
