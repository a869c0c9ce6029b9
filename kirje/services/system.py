"""The process-wide core objects every entry point (server, CLI, jobs, bench) starts from."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from kirje.domain.tracking_links import TrackingLinks, tracking_key
from kirje.jobs.queue import HueyJobQueue
from kirje.services.account_services import AccountServices
from kirje.services.accounts import Accounts
from kirje.services.automation_triggers import AutomationTriggers
from kirje.services.base import AccountScope, Clock, utc_now
from kirje.services.site_tracking import SiteTracking
from kirje.settings import Settings
from kirje.store.database import Database
from kirje.store.event_partitions import ensure_event_partitions
from kirje.store.migrate import migrate
from kirje.store.secret_box import SecretBox, load_server_key


@dataclass
class System:
    settings: Settings
    db: Database
    accounts: Accounts
    clock: Clock
    # Where stored events are handed to the automations; the engine registers here.
    triggers: AutomationTriggers = field(default_factory=AutomationTriggers)

    @classmethod
    def open(cls, settings: Settings, *, clock: Clock = utc_now, pool_size: int = 10) -> System:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database.from_url(settings.resolved_database_url, pool_size=pool_size)
        box = SecretBox(load_server_key(settings.data_dir, settings.secret_key))
        accounts = Accounts(
            db, box, default_rate_limit=settings.default_rate_limit_per_second, clock=clock
        )
        return cls(settings=settings, db=db, accounts=accounts, clock=clock)

    def migrate(self) -> None:
        migrate(self.db.engine)
        self.prepare_event_partitions()

    def prepare_event_partitions(self) -> None:
        """Makes the event store's coming month partitions (PostgreSQL; nothing on SQLite)."""
        with self.db.transaction() as conn:
            ensure_event_partitions(conn, self.clock())

    @cached_property
    def job_queue(self) -> HueyJobQueue:
        """The queue that wakes job workers; it connects on first use."""
        return HueyJobQueue(self.settings)

    @cached_property
    def site_tracking(self) -> SiteTracking:
        return SiteTracking(self.db, self.for_account)

    @cached_property
    def tracking_links(self) -> TrackingLinks:
        """The signed links in mail (open pixel, clicks, unsubscribe): the send path builds
        them, the public web side verifies them. The key comes from the server key."""
        server_key = load_server_key(self.settings.data_dir, self.settings.secret_key)
        return TrackingLinks(self.settings.public_url, tracking_key(server_key))

    def for_account(self, account_id: int) -> AccountServices:
        return AccountServices(
            AccountScope(
                self.db,
                account_id,
                self.clock,
                self.job_queue,
                self.settings.data_dir,
                self.triggers,
                self.tracking_links,
            )
        )

    def close(self) -> None:
        if "job_queue" in self.__dict__:
            self.job_queue.close()
        self.db.dispose()
