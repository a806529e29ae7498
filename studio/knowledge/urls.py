from django.urls import path

from studio.knowledge import behaviour, views

app_name = "knowledge"
urlpatterns = [
    path("", views.documents, name="documents"),
    path("sync/", views.documents_sync, name="documents_sync"),
    path("new/", views.document_add, name="document_add"),
    path("<int:pk>/", views.document_detail, name="document"),
    path("<int:pk>/recrawl/", views.document_recrawl, name="document_recrawl"),
    path("<int:pk>/delete/", views.document_delete, name="document_delete"),
    # Read by Tavus, not people: no sign-in, an unguessable token in the path instead.
    path("files/<str:token>/", views.document_file, name="file"),
]

urlpatterns += [
    path("objectives/", behaviour.objectives, name="objectives"),
    path("objectives/new/", behaviour.objectives_edit, name="objectives_new"),
    path("objectives/<int:pk>/", behaviour.objectives_edit, name="objectives_edit"),
    path("objectives/<int:pk>/delete/", behaviour.objectives_delete, name="objectives_delete"),
    path("guardrails/", behaviour.guardrails, name="guardrails"),
    path("guardrails/new/", behaviour.guardrail_edit, name="guardrail_new"),
    path("guardrails/<int:pk>/", behaviour.guardrail_edit, name="guardrail_edit"),
    path("guardrails/<int:pk>/delete/", behaviour.guardrail_delete, name="guardrail_delete"),
    path("behaviour/sync/", behaviour.behaviour_sync, name="behaviour_sync"),
    path("tools/", behaviour.tools, name="tools"),
    path("tools/new/", behaviour.tool_edit, name="tool_new"),
    path("tools/<int:pk>/", behaviour.tool_edit, name="tool_edit"),
    path("tools/<int:pk>/delete/", behaviour.tool_delete, name="tool_delete"),
    path("tools/attach/<int:persona_pk>/", behaviour.tools_attach, name="tools_attach"),
]
