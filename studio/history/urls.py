from django.urls import path

from studio.history import views

app_name = "history"

urlpatterns = [
    path("", views.history_list, name="list"),
    path("export.csv", views.history_export_csv, name="export-csv"),
    path("<int:pk>/", views.history_detail, name="detail"),
    path("<int:pk>/transcript.<str:fmt>", views.transcript_download, name="transcript"),
    path("<int:pk>/notes/", views.note_add, name="note-add"),
    path("<int:pk>/notes/<int:note_pk>/delete/", views.note_delete, name="note-delete"),
    path("<int:pk>/tags/", views.tag_add, name="tag-add"),
    path("<int:pk>/tags/<int:tag_pk>/remove/", views.tag_remove, name="tag-remove"),
]
