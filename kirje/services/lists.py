"""Mailing lists: creating, changing, deleting, reading members."""

from __future__ import annotations

from sqlalchemy import Connection

from kirje.domain.conditions import parse_condition
from kirje.domain.contacts import ContactDetails, normalize_email
from kirje.domain.errors import Invalid, NotFound
from kirje.domain.events import EventType
from kirje.domain.lists import EVERYONE, ListKind, MailingList, MemberPage
from kirje.services import memberships
from kirje.services.base import AccountScope
from kirje.store import contacts as contact_store
from kirje.store import events as event_store
from kirje.store import lists as list_store
from kirje.store import sites as site_store


class Lists:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope

    @property
    def _account_id(self) -> int:
        return self.scope.account_id

    def create(
        self,
        name: str,
        *,
        description: str | None = None,
        is_self_service: bool = False,
        condition: str | None = None,
        site_domain: str | None = None,
        cem_segment: int | None = None,
    ) -> int:
        name = _list_name(name)
        kind = _kind(condition, cem_segment)
        with self.scope.db.transaction() as conn:
            site_id = self._site_id(conn, site_domain, is_self_service)
            list_id = list_store.insert_list(
                conn,
                account_id=self._account_id,
                now=self.scope.clock(),
                name=name,
                description=description or "",
                kind=kind.value,
                is_self_service=is_self_service,
                condition=condition,
                cem_segment=cem_segment,
                site_id=site_id,
            )
            if site_id is not None:
                site_store.attach_list(conn, self._account_id, site_id, list_id)
            return list_id

    def edit(
        self,
        list_id: int,
        *,
        name: str,
        description: str,
        is_self_service: bool | None = None,
        condition: str | None = None,
        site_domain: str | None = None,
        cem_segment: int | None = None,
    ) -> int:
        name = _list_name(name)
        with self.scope.db.transaction() as conn:
            current = self._get(conn, list_id)
            self_service = current.is_self_service if is_self_service is None else is_self_service
            if current.kind is not _kind(condition, cem_segment) and (condition or cem_segment):
                raise Invalid("a list cannot change between static, dynamic and segment")
            values: dict = dict(name=name, description=description or "")
            values["is_self_service"] = self_service
            if condition is not None:
                if current.kind is not ListKind.DYNAMIC:
                    raise Invalid("only dynamic lists have a condition")
                values["condition"] = condition
            if cem_segment is not None:
                values["cem_segment"] = cem_segment
            if site_domain:
                values["site_id"] = self._site_id(conn, site_domain, self_service)
                site_store.attach_list(conn, self._account_id, values["site_id"], list_id)
            elif not self_service:
                values["site_id"] = None
                site_store.detach_list(conn, self._account_id, list_id)
            list_store.update_list(conn, self._account_id, list_id, **values)
            return list_id

    def delete(self, list_id: int) -> None:
        with self.scope.db.transaction() as conn:
            self._get(conn, list_id)
            site_store.detach_list(conn, self._account_id, list_id)
            list_store.update_list(conn, self._account_id, list_id, deleted_at=self.scope.clock())

    def get(self, list_id: int, *, with_sms_count: bool = False) -> MailingList:
        with self.scope.db.reading() as conn:
            return self._get(conn, list_id, with_sms=with_sms_count)

    def all(self, *, include_deleted: bool = False) -> list[MailingList]:
        with self.scope.db.reading() as conn:
            return list_store.all_lists(conn, self._account_id, include_deleted=include_deleted)

    def member_count(self, list_id: int) -> int:
        with self.scope.db.reading() as conn:
            return list_store.count_members(conn, self._account_id, self._readable(conn, list_id))

    def members(self, list_id: int, page: MemberPage = EVERYONE) -> list[ContactDetails]:
        with self.scope.db.reading() as conn:
            mailing_list = self._readable(conn, list_id)
            ids = list_store.member_page(conn, self._account_id, mailing_list, page)
            return contact_store.details_by_ids(conn, self._account_id, ids, include_deleted=False)

    def truncate(self, list_id: int) -> None:
        """Ends every active membership; those who left on their own stay left."""
        now = self.scope.clock()
        with self.scope.db.transaction() as conn:
            memberships.joinable_list(conn, self._account_id, list_id)
            members = list_store.active_member_ids(conn, self._account_id, list_id)
            memberships.leave(conn, self._account_id, members, [list_id], now=now, by_contact=False)

    def unique_recipient_count(self, list_ids: list[int], adhoc_emails: list[str]) -> int:
        addresses = [normalize_email(address) for address in adhoc_emails if address]
        with self.scope.db.reading() as conn:
            lists = [self._readable(conn, list_id) for list_id in dict.fromkeys(list_ids)]
            return list_store.unique_member_count(conn, self._account_id, lists, addresses)

    def set_self_service(self, list_id: int, is_self_service: bool) -> list[str]:
        """Turns self-service on or off (off takes the list off its site); returns the
        domains of the sites the list is offered on."""
        with self.scope.db.transaction() as conn:
            found = self._get(conn, list_id)
            values: dict = {"is_self_service": is_self_service}
            if not is_self_service:
                values["site_id"] = None
                site_store.detach_list(conn, self._account_id, list_id)
            list_store.update_list(conn, self._account_id, list_id, **values)
            sites = site_store.all_sites(conn, self._account_id)
            offered = found.site_id if is_self_service else None
            return [site.domain for site in sites if site.id == offered]

    def hide(self, list_id: int) -> None:
        with self.scope.db.transaction() as conn:
            self._get(conn, list_id)
            list_store.update_list(conn, self._account_id, list_id, is_hidden=True)

    def set_condition(self, list_id: int, condition: str | None) -> str | None:
        """Replaces a dynamic list's condition; returns it as stored."""
        with self.scope.db.transaction() as conn:
            found = self._get(conn, list_id)
            if found.kind is not ListKind.DYNAMIC:
                raise Invalid(f"mailing list {list_id} is {found.kind.value}: it has no condition")
            if not condition:
                raise Invalid("a dynamic list needs a condition")
            parse_condition(condition)
            list_store.update_list(conn, self._account_id, list_id, condition=condition)
            return condition

    def join(
        self,
        list_id: int,
        contact_ids: list[int],
        *,
        is_admin: bool = True,
        reason: str | None = None,
        origin: str | None = None,
        truncate: bool = False,
        rejoin: bool = False,
        ignore_missing: bool = False,
        confirm: bool = False,
    ) -> list[int]:
        """Joins the contacts; with confirm, those not yet confirmed become confirmed."""
        now = self.scope.clock()
        with self.scope.db.transaction() as conn:
            memberships.joinable_list(conn, self._account_id, list_id)
            if truncate:
                keep = set(contact_ids)
                current = list_store.active_member_ids(conn, self._account_id, list_id)
                memberships.leave(
                    conn,
                    self._account_id,
                    [cid for cid in current if cid not in keep],
                    [list_id],
                    now=now,
                    by_contact=False,
                    reason=reason,
                    origin=origin,
                )
            joined = memberships.join(
                conn,
                self._account_id,
                list_id,
                contact_ids,
                now=now,
                is_admin=is_admin,
                reason=reason,
                origin=origin,
                rejoin=rejoin,
                ignore_missing=ignore_missing,
            )
            if confirm:
                confirmed = contact_store.confirm_contacts(conn, self._account_id, joined, now)
                event_store.append_events(
                    conn,
                    [
                        event_store.event_row(
                            self._account_id, cid, EventType.CONFIRMED.value, now, list_id=list_id
                        )
                        for cid in confirmed
                    ],
                )
            return joined

    def _get(self, conn: Connection, list_id: int, *, with_sms: bool = False) -> MailingList:
        found = list_store.find_list(conn, self._account_id, list_id, with_sms=with_sms)
        if found is None:
            raise NotFound(f"mailing list {list_id} not found")
        return found

    def _readable(self, conn: Connection, list_id: int) -> MailingList:
        found = self._get(conn, list_id)
        if found.kind is ListKind.SEGMENT:
            # Segment membership comes from LianaAutomation segments (automation issue).
            raise Invalid(f"members of segment list {list_id} are not available yet")
        return found

    def _site_id(self, conn: Connection, domain: str | None, is_self_service: bool) -> int | None:
        if not domain:
            return None
        if not is_self_service:
            raise Invalid("a list is offered on a site only when it is self-service")
        site = site_store.find_site(conn, self._account_id, domain.strip().lower())
        if site is None:
            raise NotFound(f"site {domain!r} not found")
        return site.id


def _list_name(name: str) -> str:
    cleaned = (name or "").strip()
    if not cleaned:
        raise Invalid("list name must not be empty")
    if len(cleaned) > 200:
        raise Invalid("list name is longer than 200 characters")
    return cleaned


def _kind(condition: str | None, cem_segment: int | None) -> ListKind:
    if condition and cem_segment is not None:
        raise Invalid("a list has either a condition (dynamic) or a segment, not both")
    if condition:
        parse_condition(condition)
        return ListKind.DYNAMIC
    if cem_segment is not None:
        return ListKind.SEGMENT
    return ListKind.STATIC
