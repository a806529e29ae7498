from django.urls import path

from studio.join import views

app_name = "join"

urlpatterns = [
    path("<str:token>/", views.join_page, name="page"),
    path("<str:token>/state", views.join_state, name="state"),
    path("<str:token>/left", views.join_left, name="left"),
    path("<str:token>/background", views.join_background, name="background"),
]
