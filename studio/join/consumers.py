"""The join page's socket: ws/join/<token>/, authorised by the join token alone.

It relays as a staff page in the room does (RoomRelayConsumer: same validation against the
conversation's tavus_id, size and rate limits, storage and fan-out to the live pages and the
monitor) and carries supervisors' steering commands into the room, but anyone holding the link
can open it, so it may report only what the person's own browser can know (the table in
studio/conversations/consumers.py): what the replica said, and its own person joining and
leaving; never other people, the recording, or a command it was not sent. One socket per link:
a new one replaces the old (group `conversation-<pk>-join`), so one link is one person and one
share of the conversation's relay budget. It never receives the staff pages' HTML: the person
in the call sees nothing of the studio's timeline or its staff.
"""

import json

from channels.db import database_sync_to_async
from django.utils import timezone

from studio.conversations import live, push
from studio.conversations.consumers import ConversationOver, RoomRelayConsumer
from studio.conversations.models import Conversation
from studio.conversations.push import Pushes

UNKNOWN, ENDED, REPLACED = 4404, 4410, 4409  # close codes the page understands


@database_sync_to_async
def _conversation_for(token: str):
    return Conversation.for_join_token(token)


@database_sync_to_async
def _join_page_seen(pk: int) -> bool:
    """Note the join page is in the room; tell the live pages when that is news. False once
    the conversation is over."""
    conversation = Conversation.objects.filter(pk=pk).first()
    if conversation is None or not conversation.is_live:
        return False
    news = not conversation.join_page_connected
    Conversation.objects.filter(pk=pk).update(join_page_seen_at=timezone.now())
    if news:
        conversation.refresh_from_db()
        live.publish_status(conversation)
    return True


class JoinConsumer(RoomRelayConsumer):
    require_live = True
    reports_others = False
    reports_recording = False
    via = "join"
    who = "join page"

    async def connect(self):
        conversation = await _conversation_for(self.scope["url_route"]["kwargs"]["token"])
        if conversation is None:
            await self.close(code=UNKNOWN)
            return
        if not conversation.is_live:
            await self.close(code=ENDED)
            return
        # Not in group conversation-<pk>: that carries the staff pages' HTML. It joins the
        # hosts' group with its first heartbeat, like any page in the room.
        self.start_relay(conversation.pk)
        # One socket per link, across server processes: the others close.
        group = push.join_group(conversation.pk)
        await self.channel_layer.group_send(group, push.replaced_message(self.channel_name))
        await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def replaced(self, event):
        """A `replaced` message: the same link opened a newer socket; this one stops."""
        if event["by"] != self.channel_name:
            self.can_relay = False
            await self.leave_room()  # now, not when the page gets round to closing
            await self.close(code=REPLACED)

    async def disconnect(self, code):
        if hasattr(self, "pk"):
            await self.channel_layer.group_discard(push.join_group(self.pk), self.channel_name)
        await super().disconnect(code)

    async def heartbeat(self, first: bool) -> None:
        await super().heartbeat(first)
        if not await _join_page_seen(self.pk):
            await self._over()

    async def ingest(self, envelope: dict) -> Pushes:
        try:
            return await super().ingest(envelope)
        except ConversationOver:
            await self._over()
            raise

    async def _over(self) -> None:
        """The conversation has ended: say so, and stop taking anything from this page."""
        self.can_relay = False
        await self.send(text_data=json.dumps({"type": "ended"}))
        await self.close(code=ENDED)
