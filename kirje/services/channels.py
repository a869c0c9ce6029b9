"""Channels of one account: list, create, edit, delete, and the one an import names."""

from __future__ import annotations

from kirje.domain.channels import USER_CHANNEL_TYPE, Channel, ChannelChanges, new_public_key
from kirje.domain.errors import Conflict, Forbidden, Invalid, NotFound
from kirje.services.base import AccountScope
from kirje.store import channels as channel_store


class Channels:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope

    def list(self) -> list[Channel]:
        with self.scope.db.reading() as conn:
            return channel_store.list_channels(conn, self.scope.account_id)

    def get(self, channel_id: int) -> Channel:
        with self.scope.db.reading() as conn:
            channel = channel_store.find_channel(conn, self.scope.account_id, channel_id)
        if channel is None:
            raise NotFound(f"channel {channel_id} not found")
        return channel

    def named(self, reference: str | int) -> Channel:
        """The channel an import names: by id, or by system name."""
        return self.get(self.id_named(reference))

    def id_named(self, reference: str | int) -> int:
        """The id of the channel an import names (by id, or by system name): one lookup."""
        text = str(reference).strip()
        with self.scope.db.reading() as conn:
            found = channel_store.id_named(conn, self.scope.account_id, text)
        if found is None:
            raise NotFound(f"channel {text!r} not found")
        return found

    def create(
        self,
        changes: ChannelChanges,
        *,
        type: str = USER_CHANNEL_TYPE,
        system_name: str = "",
    ) -> Channel:
        """A new channel; users make untyped ones, operators and Kirje typed ones."""
        changes = changes.checked()
        if changes.name is None:
            raise Invalid("name is required")
        with self.scope.db.transaction() as conn:
            channel_id = channel_store.insert_channel(
                conn,
                account_id=self.scope.account_id,
                now=self.scope.clock(),
                name=changes.name,
                color=changes.color or "",
                tracking_enabled=bool(changes.tracking_enabled),
                notes=changes.notes or "",
                type=type,
                system_name=system_name,
                public_key=new_public_key(),
            )
        return self.get(channel_id)

    def edit(self, channel_id: int, changes: ChannelChanges) -> Channel:
        changes = changes.checked()
        channel = self.get(channel_id)
        if not channel.is_user_made:
            raise Forbidden(
                f"channel {channel_id} has a type ({channel.type}): it cannot be edited"
            )
        values = {name: value for name, value in vars(changes).items() if value is not None}
        if values:
            with self.scope.db.transaction() as conn:
                channel_store.update_channel(
                    conn, self.scope.account_id, channel_id, self.scope.clock(), **values
                )
        return self.get(channel_id)

    def delete(self, channel_id: int) -> None:
        """Deletes an untyped channel without events (no automation or segment uses channels
        in this version of Kirje)."""
        channel = self.get(channel_id)
        if not channel.is_user_made:
            raise Forbidden(
                f"channel {channel_id} has a type ({channel.type}): it cannot be deleted"
            )
        with self.scope.db.transaction() as conn:
            if channel_store.has_events(conn, self.scope.account_id, channel_id):
                raise Conflict(f"channel {channel_id} has events: it cannot be deleted")
            channel_store.delete_channel(conn, self.scope.account_id, channel_id)
