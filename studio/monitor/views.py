"""The supervisors' monitoring wall: every live conversation the user may see, on one page.

What the wall shows (tiles, alerts, the slot board) is studio.conversations.wall: every state
change of a conversation pushes to it, so it sits below the conversation's own pages.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from studio.accounts.roles import role_required
from studio.conversations import wall


@role_required()
def monitor_page(request: HttpRequest) -> HttpResponse:
    # The page renders the same state the socket sends on connect, so it is right even
    # before (or without) the websocket.
    return render(
        request,
        "conversations/monitor.html",
        {
            "nav": "monitor",
            "board": wall.board(),
            "tiles": wall.tiles_for(request.user),
            "recent": wall.recently_ended(request.user),
        },
    )
