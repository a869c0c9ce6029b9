"""Every service of one account, bundled for the entry points (HTTP, CLI, jobs)."""

from __future__ import annotations

from functools import cached_property

from kirje.domain.accounts import Account
from kirje.services.account_settings import AccountSettings
from kirje.services.base import AccountScope
from kirje.services.channels import Channels
from kirje.services.confirmations import Confirmations
from kirje.services.consents import Consents
from kirje.services.contacts import Contacts
from kirje.services.deliveries import Deliveries
from kirje.services.delivery_reports import DeliveryReports
from kirje.services.event_feed import EventFeed
from kirje.services.event_imports import EventImports
from kirje.services.event_searches import EventSearches
from kirje.services.history import History
from kirje.services.imports import Imports
from kirje.services.jobs import Jobs
from kirje.services.lists import Lists
from kirje.services.messages import Messages
from kirje.services.privacy import Privacy
from kirje.services.properties import Properties
from kirje.services.recipient_queries import RecipientQueries
from kirje.services.sites import Sites
from kirje.services.uploads import Uploads
from kirje.store import accounts as account_store


class AccountServices:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope

    @property
    def account_id(self) -> int:
        return self.scope.account_id

    def account(self) -> Account:
        with self.scope.db.reading() as conn:
            account = account_store.find_account(conn, self.scope.account_id)
        assert account is not None
        return account

    @cached_property
    def contacts(self) -> Contacts:
        return Contacts(self.scope)

    @cached_property
    def lists(self) -> Lists:
        return Lists(self.scope)

    @cached_property
    def properties(self) -> Properties:
        return Properties(self.scope)

    @cached_property
    def sites(self) -> Sites:
        return Sites(self.scope)

    @cached_property
    def consents(self) -> Consents:
        return Consents(self.scope)

    @cached_property
    def jobs(self) -> Jobs:
        return Jobs(self.scope)

    @cached_property
    def privacy(self) -> Privacy:
        return Privacy(self.scope)

    @cached_property
    def confirmations(self) -> Confirmations:
        return Confirmations(self.scope)

    @cached_property
    def history(self) -> History:
        return History(self.scope)

    @cached_property
    def queries(self) -> RecipientQueries:
        return RecipientQueries(self.scope)

    @cached_property
    def settings(self) -> AccountSettings:
        return AccountSettings(self.scope)

    @cached_property
    def imports(self) -> Imports:
        return Imports(self.scope)

    @cached_property
    def uploads(self) -> Uploads:
        return Uploads(self.scope)

    @cached_property
    def channels(self) -> Channels:
        return Channels(self.scope)

    @cached_property
    def event_imports(self) -> EventImports:
        return EventImports(self.scope)

    @cached_property
    def event_searches(self) -> EventSearches:
        return EventSearches(self.scope)

    @cached_property
    def event_feed(self) -> EventFeed:
        return EventFeed(self.scope)

    @cached_property
    def messages(self) -> Messages:
        return Messages(self.scope)

    @cached_property
    def deliveries(self) -> Deliveries:
        return Deliveries(self.scope)

    @cached_property
    def delivery_reports(self) -> DeliveryReports:
        return DeliveryReports(self.scope)
