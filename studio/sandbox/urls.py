from django.urls import path

from studio.sandbox import behaviour, documents, rooms, tools, views

app_name = "sandbox"

# Tavus paths have no trailing slash. Era-B names (/v2/pals, /v2/faces) reach the same views.
urlpatterns = [
    path("v2/conversations", views.conversations, name="conversations"),
    path("v2/conversations/<str:conversation_id>", views.conversation, name="conversation"),
    path(
        "v2/conversations/<str:conversation_id>/end",
        views.end_conversation,
        name="conversation-end",
    ),
    path("v2/personas", views.personas, name="personas"),
    path("v2/personas/<str:persona_id>", views.persona, name="persona"),
    path("v2/pals", views.personas, name="pals"),
    path("v2/pals/<str:persona_id>", views.persona, name="pal"),
    path("v2/replicas", views.replicas, name="replicas"),
    path("v2/replicas/<str:replica_id>", views.replica, name="replica"),
    path("v2/faces", views.replicas, name="faces"),
    path("v2/faces/<str:replica_id>", views.replica, name="face"),
    path("v2/documents", documents.documents, name="documents"),
    path("v2/documents/<str:document_id>", documents.document, name="document"),
    path("v2/documents/<str:document_id>/recrawl", documents.recrawl, name="document-recrawl"),
    path("v2/objectives", behaviour.objectives, name="objectives"),
    path("v2/objectives/<str:objectives_id>", behaviour.objectives_one, name="objectives-one"),
    path("v2/guardrails", behaviour.guardrails, name="guardrails"),
    path("v2/guardrails/<str:guardrail_id>", behaviour.guardrails_one, name="guardrails-one"),
    path("v2/tools", tools.tools, name="tools"),
    path("v2/tools/<str:tool_id>", tools.tool, name="tool"),
    path("v2/pals/<str:persona_id>/tools", tools.persona_tools, name="pal-tools"),
    path("v2/personas/<str:persona_id>/tools", tools.persona_tools, name="persona-tools"),
    # The simulated Daily room that conversation_url points to, and its page's own endpoints.
    path("rooms/<str:conversation_id>/", rooms.room, name="room"),
    path("rooms/<str:conversation_id>/session", rooms.session, name="room-session"),
    path("rooms/<str:conversation_id>/presence", rooms.presence, name="room-presence"),
    path("rooms/<str:conversation_id>/events", rooms.events, name="room-events"),
    path("rooms/<str:conversation_id>/say", rooms.say, name="room-say"),
    path("rooms/<str:conversation_id>/command", rooms.command, name="room-command"),
]
