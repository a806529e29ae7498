from django.urls import path

from studio.conversations import history, views

urlpatterns = [
    path("launch/", views.launch, name="launch"),
    path("launch/<int:pk>/", views.launch_preset, name="launch-preset"),
    path("launch/<int:pk>/preview/", views.launch_preview, name="launch-preview"),
    path("live/", views.live_list, name="live"),
    path("conversations/<int:pk>/", views.conversation_page, name="conversation"),
    path("conversations/<int:pk>/end/", views.end_conversation, name="conversation-end"),
    path("conversations/<int:pk>/steer/", views.steer, name="conversation-steer"),
    path("hooks/tavus/<str:secret>/", views.tavus_webhook, name="tavus-webhook"),
    path("monitor/", views.monitor_page, name="monitor"),
    path("history/", history.history, name="history"),
    path("history/export.csv", history.history_export_csv, name="history-export-csv"),
    path("history/<int:pk>/", history.history_detail, name="history-detail"),
    path(
        "history/<int:pk>/transcript.<str:fmt>",
        history.transcript_download,
        name="history-transcript",
    ),
]
