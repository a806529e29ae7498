from django.urls import path

from studio.invites import views

app_name = "invites"

urlpatterns = [
    # Staff
    path("links/", views.links, name="links"),
    path("links/new/", views.choose_preset, name="choose"),
    path("links/new/<int:pk>/", views.new_link, name="new"),
    path("links/new/<int:pk>/list/", views.new_list, name="new-list"),
    path("links/<int:pk>/revoke/", views.revoke, name="revoke"),
    path("links/<int:pk>/send/", views.send, name="send"),
    # The person with the link (no sign-in)
    path("invite/<str:token>/", views.invite_page, name="page"),
    path("invite/<str:token>/start", views.invite_start, name="start"),
]
