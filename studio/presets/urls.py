from django.urls import path

from studio.presets import views

app_name = "presets"
urlpatterns = [
    path("", views.preset_list, name="list"),
    path("new/", views.preset_new, name="new"),
    path("validate/", views.preset_validate, name="validate_new"),
    path("<int:pk>/edit/", views.preset_edit, name="edit"),
    path("<int:pk>/validate/", views.preset_validate, name="validate"),
    path("<int:pk>/pin/", views.preset_pin, name="pin"),
    path("<int:pk>/duplicate/", views.preset_duplicate, name="duplicate"),
    path("<int:pk>/archive/", views.preset_archive, name="archive"),
    path("<int:pk>/unarchive/", views.preset_unarchive, name="unarchive"),
    path("<int:pk>/background/", views.preset_background, name="background"),
    path("background/kept/<str:token>/", views.kept_background, name="kept_background"),
]
