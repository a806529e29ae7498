from django.urls import path

from studio.presets import views

app_name = "presets"
urlpatterns = [
    path("", views.preset_list, name="list"),
]
