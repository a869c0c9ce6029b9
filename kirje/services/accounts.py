"""Accounts and their API users: creation, credentials and the per-process credential cache."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from kirje.domain.accounts import Account, ApiCredential, check_realm
from kirje.domain.errors import Invalid, NotFound
from kirje.domain.properties import DEFAULT_PROPERTIES, PropertyDatatype, PropertyType
from kirje.services.base import Clock, utc_now
from kirje.store import accounts as account_store
from kirje.store import properties as property_store
from kirje.store import sites as site_store
from kirje.store.database import Database
from kirje.store.secret_box import SecretBox

DEFAULT_REALM = "KIRJE"
DEFAULT_SITE_POSTFIX = "kirje.local"


@dataclass(frozen=True)
class NewAccount:
    account_id: int
    realm: str
    user_id: int
    secret: str


class Accounts:
    def __init__(
        self,
        db: Database,
        secret_box: SecretBox,
        *,
        default_rate_limit: int = 4,
        clock: Clock = utc_now,
    ) -> None:
        self.db = db
        self.secret_box = secret_box
        self.default_rate_limit = default_rate_limit
        self.clock = clock
        self._change_listeners: list[Callable[[int], None]] = []

    def on_credential_change(self, listener: Callable[[int], None]) -> None:
        self._change_listeners.append(listener)

    def _credential_changed(self, user_id: int) -> None:
        for listener in self._change_listeners:
            listener(user_id)

    def create(
        self, name: str, *, realm: str = DEFAULT_REALM, secret: str | None = None
    ) -> NewAccount:
        """A new account with its default properties, a default site and one API user."""
        name = name.strip()
        if not name:
            raise Invalid("account name must not be empty")
        realm = check_realm(realm)
        now = self.clock()
        with self.db.transaction() as conn:
            account_id = account_store.insert_account(conn, name=name, realm=realm, now=now)
            for position, (prop_name, visible) in enumerate(DEFAULT_PROPERTIES, start=1):
                property_store.insert_property(
                    conn,
                    account_id=account_id,
                    now=now,
                    name=prop_name,
                    visible_name=visible,
                    language="FI",
                    type=PropertyType.TEXT.value,
                    datatype=PropertyDatatype.TEXT.value,
                    choices=[],
                    is_required=False,
                    is_on_subscription_page=True,
                    position=position,
                )
            site_store.insert_site(
                conn,
                account_id=account_id,
                now=now,
                domain=f"account{account_id}.{DEFAULT_SITE_POSTFIX}",
                language="FI",
                is_default=True,
                uses_ssl=True,
            )
        user = self.add_api_user(account_id, secret=secret)
        return NewAccount(account_id, realm, user.user_id, user.secret)

    def add_api_user(
        self, account_id: int, *, secret: str | None = None, rate_limit: int | None = None
    ) -> NewAccount:
        secret = secret or secrets.token_hex(16)
        with self.db.transaction() as conn:
            account = account_store.find_account(conn, account_id)
            if account is None:
                raise NotFound(f"account {account_id} not found")
            user_id = account_store.insert_api_user(
                conn,
                account_id=account_id,
                secret_ciphertext=self.secret_box.seal(secret),
                rate_limit_per_second=rate_limit or self.default_rate_limit,
                now=self.clock(),
            )
        return NewAccount(account_id, account.realm, user_id, secret)

    def set_rate_limit(self, user_id: int, per_second: int) -> None:
        if per_second < 1:
            raise Invalid("rate limit must be at least 1 request per second")
        with self.db.transaction() as conn:
            if account_store.find_api_user(conn, user_id) is None:
                raise NotFound(f"API user {user_id} not found")
            account_store.update_api_user(
                conn, user_id, self.clock(), rate_limit_per_second=per_second
            )
        self._credential_changed(user_id)

    def set_enabled(self, user_id: int, is_enabled: bool) -> None:
        with self.db.transaction() as conn:
            account_store.update_api_user(conn, user_id, self.clock(), is_enabled=is_enabled)
        self._credential_changed(user_id)

    def the_only_one(self) -> int:
        """The account id when there is exactly one (operators' commands default to it)."""
        with self.db.reading() as conn:
            ids = account_store.account_ids(conn, limit=2)
        if len(ids) != 1:
            raise Invalid("there is more than one account: name one" if ids else "no account yet")
        return ids[0]

    def get(self, account_id: int) -> Account:
        with self.db.reading() as conn:
            account = account_store.find_account(conn, account_id)
        if account is None:
            raise NotFound(f"account {account_id} not found")
        return account

    def load_credential(self, user_id: int) -> ApiCredential | None:
        with self.db.reading() as conn:
            row = account_store.find_api_user(conn, user_id)
        if row is None:
            return None
        return ApiCredential(
            user_id=row.id,
            account_id=row.account_id,
            realm=row.realm,
            secret=self.secret_box.open(row.secret_ciphertext).encode(),
            rate_limit_per_second=row.rate_limit_per_second,
            is_enabled=row.is_enabled,
        )

    def first_credentials(self) -> NewAccount | None:
        """The oldest account's first API user with its secret in clear (for `make serve`)."""
        with self.db.reading() as conn:
            account_id = account_store.first_account_id(conn)
            if account_id is None:
                return None
            user_id = account_store.first_api_user_id(conn, account_id)
        if user_id is None:
            return None
        credential = self.load_credential(user_id)
        assert credential is not None
        return NewAccount(account_id, credential.realm, user_id, credential.secret.decode())


class CredentialCache:
    """API credentials per process for a short time, so a signed request costs no query.

    Changes made through this process invalidate at once; other processes see them
    within `ttl_seconds`.
    """

    def __init__(self, accounts: Accounts, ttl_seconds: float = 5.0) -> None:
        self._accounts = accounts
        self._ttl = ttl_seconds
        self._entries: dict[int, tuple[float, ApiCredential | None]] = {}
        self._lock = threading.Lock()
        accounts.on_credential_change(self.invalidate)

    def get(self, user_id: int) -> ApiCredential | None:
        now = time.monotonic()
        entry = self._entries.get(user_id)
        if entry is not None and entry[0] > now:
            return entry[1]
        credential = self._accounts.load_credential(user_id)
        with self._lock:
            self._entries[user_id] = (now + self._ttl, credential)
        return credential

    def invalidate(self, user_id: int | None = None) -> None:
        with self._lock:
            if user_id is None:
                self._entries.clear()
            else:
                self._entries.pop(user_id, None)
