"""The push path: which socket groups exist, the messages they get, and how they are sent.

Every live update is HTML rendered once and fanned out through the channel layer to a group:

- `conversation-<pk>`: the staff live pages of one conversation;
- `conversation-<pk>-hosts`: the pages inside its room (live pages that joined, the join
  page), which carry steering commands into the room;
- `conversation-<pk>-join`: the join page's relay socket, one per join link (a new one tells
  the old to close with a `replaced` message);
- `monitor`: the supervisors' walls (every tile); `monitor-user-<id>`: an operator's wall
  (their own tiles); `monitor-board`: every wall's slot board.

Three message types: `push` (HTML fragments the htmx ws extension swaps in by id), `command` (a
steering command for the room) and `replaced` (above). Code that works out a change returns
`Pushes`, a list of (group, HTML) pairs, and whoever called it sends them: sync code with
`send()`, one trip to the event loop for all of them; consumers with `await send_async()` from
the loop itself. A relayed event's handler runs in a worker thread, and a trip from there waits
behind whatever the loop is delivering (200 sockets' worth, for a watched conversation):
sending from the loop kept the relay in step with its room (bench/RESULTS.md, "Fan-out").

The in-memory layer (studio/lib/layers.py) batches `push` messages to big groups.
"""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

type Pushes = list[tuple[str, str]]  # (group, HTML), in the order they are to go out

MONITOR_ALL, MONITOR_BOARD = "monitor", "monitor-board"


def conversation_group(pk: int) -> str:
    return f"conversation-{pk}"


def hosts_group(pk: int) -> str:
    return f"conversation-{pk}-hosts"


def join_group(pk: int) -> str:
    return f"conversation-{pk}-join"


def monitor_user_group(user_id) -> str:
    return f"monitor-user-{user_id}"


def push_message(html: str) -> dict:
    return {"type": "push", "html": html}


def command_message(event_id: int, envelope: dict) -> dict:
    return {"type": "command", "id": event_id, "envelope": envelope}


def replaced_message(channel_name: str) -> dict:
    """A new join socket for the same link: every other one closes."""
    return {"type": "replaced", "by": channel_name}


async def send_async(pushes: Pushes) -> None:
    layer = get_channel_layer()
    for group, html in pushes:
        if html:
            await layer.group_send(group, push_message(html))


def send(pushes: Pushes) -> None:
    """Send from sync code (views, jobs, a consumer's worker thread)."""
    if any(html for _, html in pushes):
        async_to_sync(send_async)(pushes)


def send_command(pk: int, event_id: int, envelope: dict) -> None:
    """Hand a steering command to the pages in conversation `pk`'s room."""
    layer = get_channel_layer()
    async_to_sync(layer.group_send)(hosts_group(pk), command_message(event_id, envelope))
