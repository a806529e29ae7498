from django.urls import path

from studio.conversations import views

app_name = "conversations"

urlpatterns = [
    path("launch/", views.launch, name="launch"),
    path("launch/<int:pk>/", views.launch_preset, name="launch-preset"),
    path("launch/<int:pk>/preview/", views.launch_preview, name="launch-preview"),
    path("live/", views.live_list, name="live"),
    path("conversations/<int:pk>/", views.conversation_page, name="page"),
    path("conversations/<int:pk>/end/", views.end_conversation, name="end"),
    path("conversations/<int:pk>/left/", views.page_left, name="left"),
    path("conversations/<int:pk>/steer/", views.steer, name="steer"),
    path("conversations/<int:pk>/tool-answer/", views.answer_tool, name="tool-answer"),
    path(
        "conversations/<int:pk>/objective-confirm/",
        views.confirm_objective,
        name="objective-confirm",
    ),
    path("hooks/tavus/<str:secret>/", views.tavus_webhook, name="webhook"),
]
