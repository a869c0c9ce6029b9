"""Delivery reports of one account: each delivery's numbers, the recipients behind them, its
tracked links, deliverability ratings and the account's statistics.

Reads only: every number comes from the ledger and the mail events when asked (see
kirje.domain.delivery_reports for what each counts). Listings leave hidden deliveries out; a
delivery asked for by its id is reported hidden or not.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from kirje.domain.deliveries import Delivery
from kirje.domain.delivery_reports import (
    AUTOMATIC_KINDS,
    MAX_CLICKS,
    MAX_RATINGS,
    MAX_REPORTS,
    AccountStatistics,
    ClickPage,
    DeliveryReport,
    GroupMember,
    LinkClick,
    LinkSummary,
    OpenerSummary,
    RatedDelivery,
    ReceivedMail,
    RecipientGroup,
    ReportOrder,
    ReportRange,
    SentMailSearch,
    TrackedLink,
    deliverability,
)
from kirje.domain.errors import Invalid, NotFound
from kirje.services.base import AccountScope
from kirje.store import contacts as contact_store
from kirje.store import deliveries as delivery_store
from kirje.store import delivery_reports as report_store
from kirje.store import lists as list_store


class DeliveryReports:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope

    @property
    def _account_id(self) -> int:
        return self.scope.account_id

    # Reports

    def report(self, delivery_id: int) -> DeliveryReport:
        return self.reports([delivery_id])[0]

    def reports(self, delivery_ids: Sequence[int]) -> list[DeliveryReport]:
        """The reports of the deliveries, in the order asked; NotFound names any the account
        does not have."""
        ids = list(dict.fromkeys(delivery_ids))
        if len(ids) > MAX_REPORTS:
            raise Invalid(f"at most {MAX_REPORTS} deliveries at once")
        with self.scope.db.reading() as conn:
            found = report_store.reports(conn, self._account_id, ids)
        missing = [delivery_id for delivery_id in ids if delivery_id not in found]
        if missing:
            names = ", ".join(map(str, missing))
            raise NotFound(
                f"delivery {names} not found"
                if len(missing) == 1
                else f"deliveries {names} not found"
            )
        return [found[delivery_id] for delivery_id in ids]

    def listing(self, chosen: ReportRange) -> list[DeliveryReport]:
        """One page of the reports of the deliveries not hidden."""
        _check_page(chosen.limit, chosen.offset, MAX_REPORTS)
        return self._page(chosen)

    def archived(self, archive: str, limit: int, *, oldest_first: bool) -> list[DeliveryReport]:
        """The newest (or oldest) deliveries shown on the archive (RSS feed), not hidden."""
        _check_page(limit, 0, MAX_REPORTS)
        return self._page(ReportRange(limit=limit, descending=not oldest_first), archive=archive)

    def automatic(self) -> list[DeliveryReport]:
        """The newest deliveries Kirje made by itself (welcome and confirmation mails)."""
        return self._page(ReportRange(), kinds=AUTOMATIC_KINDS)

    def _page(self, chosen: ReportRange, **filters) -> list[DeliveryReport]:
        with self.scope.db.reading() as conn:
            ids = report_store.page_ids(conn, self._account_id, chosen, **filters)
            found = report_store.reports(conn, self._account_id, ids)
        return [found[delivery_id] for delivery_id in ids if delivery_id in found]

    # Recipients

    def members(
        self,
        delivery_id: int,
        group: RecipientGroup,
        *,
        link_ids: Sequence[int] = (),
        per_link: bool = False,
    ) -> list[GroupMember]:
        """The delivery's recipients in the group. Clickers may be narrowed to some of its
        links (by link id), and listed once per link clicked (per_link)."""
        with self.scope.db.reading() as conn:
            delivery = self._delivery(conn, delivery_id)
            positions: list[int] = []
            by_position: dict[int, TrackedLink] | None = None
            if group is RecipientGroup.CLICKED:
                links = report_store.links_of(conn, self._account_id, delivery_id)
                if link_ids:
                    positions = [link.position for link in _chosen_links(delivery, links, link_ids)]
                if per_link:
                    by_position = {link.position: link for link in links}
            return report_store.group_members(
                conn,
                self._account_id,
                delivery,
                group,
                positions=positions,
                links_by_position=by_position,
            )

    def openers(self, delivery_id: int, *, opened: bool = True) -> list[OpenerSummary]:
        """Its openers with their opens, or (opened False) its delivered non-openers."""
        with self.scope.db.reading() as conn:
            self._delivery(conn, delivery_id)
            return report_store.opener_summaries(conn, self._account_id, delivery_id, opened=opened)

    # Links

    def links(self, delivery_id: int) -> list[TrackedLink]:
        with self.scope.db.reading() as conn:
            self._delivery(conn, delivery_id)
            return report_store.links_of(conn, self._account_id, delivery_id)

    def link_clicks(self, link_id: int) -> list[LinkClick]:
        with self.scope.db.reading() as conn:
            link = self._link(conn, link_id)
            return report_store.link_clicks(conn, self._account_id, link)

    def link_summary(self, link_id: int) -> LinkSummary:
        with self.scope.db.reading() as conn:
            link = self._link(conn, link_id)
            return report_store.link_summary(conn, self._account_id, link)

    # Ratings and statistics

    def ratings(self, count: int = 1, offset: int = 0) -> list[RatedDelivery]:
        """The newest deliveries not hidden, each with its deliverability."""
        _check_page(count, offset, MAX_RATINGS)
        chosen = ReportRange(offset=offset, limit=count, order=ReportOrder.CREATED)
        return [
            RatedDelivery(
                report.delivery.id,
                report.subject,
                report.delivery.created_at,
                deliverability(report.totals),
            )
            for report in self._page(chosen)
        ]

    def statistics(self) -> AccountStatistics:
        with self.scope.db.reading() as conn:
            return report_store.account_statistics(conn, self._account_id)

    # The account's mail over time

    def sent_count(self, search: SentMailSearch) -> int:
        """How many messages the account's deliveries had accepted by a receiving server,
        within the search; NotFound names a delivery or list the account does not have."""
        with self.scope.db.reading() as conn:
            if search.delivery_id is not None:
                self._delivery(conn, search.delivery_id)
            if search.list_id is not None:
                found = list_store.find_list(
                    conn, self._account_id, search.list_id, include_deleted=True, with_counts=False
                )
                if found is None:
                    raise NotFound(f"mailing list {search.list_id} not found")
            return report_store.sent_count(conn, self._account_id, search)

    def clicks_since(self, since: datetime, offset: int = 0) -> ClickPage:
        """The clicks of tracked links in the account's mail since the moment, oldest first:
        at most MAX_CLICKS after skipping offset, with how many there are in all."""
        if offset < 0:
            raise Invalid("offset must not be negative")
        with self.scope.db.reading() as conn:
            return report_store.clicks_since(
                conn, self._account_id, since, offset=offset, limit=MAX_CLICKS
            )

    def received_mails(self, contact_id: int, limit: int | None = None) -> list[ReceivedMail]:
        """The messages the contact received (deleted contacts too), newest first, at most
        limit (None: all); NotFound for a contact the account does not have or has erased."""
        if limit is not None and limit <= 0:
            raise Invalid("the number of mails must be positive")
        with self.scope.db.reading() as conn:
            contact = contact_store.find_by_id(
                conn, self._account_id, contact_id, include_deleted=True
            )
            if contact is None or contact.forgotten_at is not None:
                raise NotFound(f"recipient {contact_id} not found")
            return report_store.received_mails(conn, self._account_id, contact_id, limit=limit)

    def _delivery(self, conn, delivery_id: int) -> Delivery:
        delivery = delivery_store.find_delivery(conn, self._account_id, delivery_id)
        if delivery is None:
            raise NotFound(f"delivery {delivery_id} not found")
        return delivery

    def _link(self, conn, link_id: int) -> TrackedLink:
        link = report_store.find_link(conn, self._account_id, link_id)
        if link is None:
            raise NotFound(f"link {link_id} not found")
        return link


def _chosen_links(
    delivery: Delivery, links: list[TrackedLink], link_ids: Sequence[int]
) -> list[TrackedLink]:
    by_id = {link.id: link for link in links}
    unknown = [str(link_id) for link_id in link_ids if link_id not in by_id]
    if unknown:
        raise Invalid(f"not links of delivery {delivery.id}: {', '.join(unknown)}")
    return [by_id[link_id] for link_id in dict.fromkeys(link_ids)]


def _check_page(limit: int, offset: int, most: int) -> None:
    if not 0 < limit <= most:
        raise Invalid(f"the number of results must be 1-{most}")
    if offset < 0:
        raise Invalid("offset must not be negative")
