"""The monitoring wall's socket: the wall's state on connect, then every tile and board change."""

from channels.db import database_sync_to_async

from studio.accounts.roles import is_supervisor, role_of
from studio.conversations import push, wall
from studio.conversations.consumers import NOT_ALLOWED, PushConsumer


class MonitorConsumer(PushConsumer):
    """One socket for every tile the user may see, plus the board."""

    async def connect(self):
        user = self.scope.get("user")
        if not user or not user.is_authenticated or not await database_sync_to_async(role_of)(user):
            await self.close(code=NOT_ALLOWED)
            return
        supervisor = await database_sync_to_async(is_supervisor)(user)
        self.groups_joined = [
            push.MONITOR_BOARD,
            push.MONITOR_ALL if supervisor else push.monitor_user_group(user.pk),
        ]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send(text_data=await database_sync_to_async(wall.snapshot_html)(user))

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        pass  # the wall only listens
