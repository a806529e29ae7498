from django.urls import path

from studio.knowledge import views

app_name = "knowledge"
urlpatterns = [
    path("", views.documents, name="documents"),
    path("sync/", views.documents_sync, name="documents_sync"),
    path("new/", views.document_add, name="document_add"),
    path("<int:pk>/", views.document_detail, name="document"),
    path("<int:pk>/recrawl/", views.document_recrawl, name="document_recrawl"),
    path("<int:pk>/delete/", views.document_delete, name="document_delete"),
    # Called by Tavus, not people: no sign-in, a secret or a token in the path instead.
    path("hooks/<int:pk>/<str:secret>/", views.document_callback, name="callback"),
    path("files/<str:token>/", views.document_file, name="file"),
]
