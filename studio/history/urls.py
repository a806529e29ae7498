from django.urls import path

from studio.history import views

app_name = "history"

urlpatterns = [
    path("", views.history_list, name="list"),
    path("export.csv", views.history_export_csv, name="export-csv"),
    path("<int:pk>/", views.history_detail, name="detail"),
    path("<int:pk>/transcript.<str:fmt>", views.transcript_download, name="transcript"),
]
