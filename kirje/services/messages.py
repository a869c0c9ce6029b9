"""Messages of one account: the drafts deliveries send."""

from __future__ import annotations

from kirje.domain.errors import Invalid, NotFound
from kirje.domain.messages import Message, MessageContent
from kirje.services.base import AccountScope
from kirje.store import messages as message_store

MAX_PAGE = 1000


class Messages:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope

    def create(self, content: MessageContent) -> Message:
        content = content.checked()
        with self.scope.db.transaction() as conn:
            message_id = message_store.insert_message(
                conn, self.scope.account_id, content, self.scope.clock()
            )
        return self.get(message_id)

    def update(self, message_id: int, content: MessageContent) -> Message:
        content = content.checked()
        with self.scope.db.transaction() as conn:
            changed = message_store.update_message(
                conn, self.scope.account_id, message_id, content, self.scope.clock()
            )
        if not changed:
            raise NotFound(f"draft {message_id} not found")
        return self.get(message_id)

    def get(self, message_id: int) -> Message:
        with self.scope.db.reading() as conn:
            message = message_store.find_message(conn, self.scope.account_id, message_id)
        if message is None:
            raise NotFound(f"draft {message_id} not found")
        return message

    def list(self, *, limit: int = 100, offset: int = 0) -> list[Message]:
        if not 0 < limit <= MAX_PAGE or offset < 0:
            raise Invalid(f"limit must be 1-{MAX_PAGE} and offset at least 0")
        with self.scope.db.reading() as conn:
            return message_store.list_messages(
                conn, self.scope.account_id, limit=limit, offset=offset
            )
