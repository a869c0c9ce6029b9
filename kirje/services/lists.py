"""Mailing lists: creating, changing, deleting, reading members."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from kirje.domain.conditions import parse_condition
from kirje.domain.contacts import ContactDetails, normalize_email
from kirje.domain.errors import Conflict, Invalid, NotFound
from kirje.domain.events import EventType
from kirje.domain.jobs import Job, JobKind
from kirje.domain.lists import (
    EVERYONE,
    ListKind,
    MailingList,
    MemberCondition,
    MemberPage,
    external_id_pair,
    health_percent,
    normalize_folder,
)
from kirje.services import memberships
from kirje.services.base import AccountScope
from kirje.services.jobs import Jobs
from kirje.store import contacts as contact_store
from kirje.store import events as event_store
from kirje.store import lists as list_store
from kirje.store import properties as property_store
from kirje.store import sites as site_store


@dataclass(frozen=True)
class MemberRows:
    """Contacts as a report shows them: the property names asked for, then one row per
    contact of (email, sms, values in the order of the names)."""

    property_names: list[str]
    rows: list[tuple[str | None, str | None, list[str]]]


class Lists:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope
        self._jobs = Jobs(scope)

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
        external_id: str | None = None,
        external_id_type: str | None = None,
    ) -> int:
        name = _list_name(name)
        kind = _kind(condition, cem_segment)
        external = (
            external_id_pair(external_id, external_id_type)
            if external_id is not None or external_id_type is not None
            else None
        )
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
            if external is not None:
                self._set_external_id(conn, list_id, *external)
            return list_id

    def for_import(self, *, list_id: int | None, name: str | None, folder: str | None) -> int:
        """The v2 import's target: the given list, renamed when a name is given and moved when
        a folder is; or, without an id, the static list of that name in that folder, created
        when there is none."""
        # The seed: with a list id, "" or no folder leaves the folder alone and "/" is the root;
        # without one, "" and "/" both mean the root.
        moves_to = normalize_folder(folder) if folder and folder.strip() else None
        with self.scope.db.transaction() as conn:
            if list_id is not None:
                current = self._get(conn, list_id)
                if current.kind is not ListKind.STATIC:
                    raise Invalid(f"list {list_id} is not a static list: imports need one")
                values: dict = {}
                if name:
                    values["name"] = _list_name(name)
                if moves_to is not None:
                    values["folder"] = moves_to
                if values:
                    list_store.update_list(conn, self._account_id, list_id, **values)
                return list_id
            if not name:
                raise Invalid("list_id or name is required")
            name = _list_name(name)
            folder_path = moves_to or ""
            found = list_store.find_static_list_by_name(conn, self._account_id, name, folder_path)
            if found is not None:
                return found
            return list_store.insert_list(
                conn,
                account_id=self._account_id,
                now=self.scope.clock(),
                name=name,
                description="",
                kind=ListKind.STATIC.value,
                is_self_service=False,
                folder=folder_path,
            )

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
            # A deleted list gives up its external ids, so another list may take them.
            list_store.delete_external_ids(conn, self._account_id, list_id)
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

    def external_ids(self, list_ids: list[int] | None = None) -> dict[int, dict[str, str]]:
        """{list id: {type: external id}}, for the given lists or every list."""
        with self.scope.db.reading() as conn:
            return list_store.external_ids_by_list(conn, self._account_id, list_ids)

    def add_external_id(
        self, list_id: int, external_id: str | None, external_id_type: str | None
    ) -> None:
        """Gives the list an id in an outside system; a second one of the same type replaces
        the first. Raises Conflict when another list carries that id for the type."""
        pair = external_id_pair(external_id, external_id_type)
        with self.scope.db.transaction() as conn:
            self._get(conn, list_id, with_counts=False)
            self._set_external_id(conn, list_id, *pair)

    def delete_external_id(self, list_id: int, external_id_type: str) -> None:
        """Removes the list's external id of the type; nothing to remove is not an error."""
        with self.scope.db.transaction() as conn:
            self._get(conn, list_id, with_counts=False)
            list_store.delete_external_ids(
                conn, self._account_id, list_id, _external_type(external_id_type)
            )

    def external_id(self, list_id: int, external_id_type: str) -> str:
        id_type = _external_type(external_id_type)
        with self.scope.db.reading() as conn:
            self._get(conn, list_id, with_counts=False)
            found = list_store.external_ids_by_list(conn, self._account_id, [list_id])
        external_id = found.get(list_id, {}).get(id_type)
        if external_id is None:
            raise NotFound(f"mailing list {list_id} has no external id of type {id_type!r}")
        return external_id

    def find_by_external_id(self, external_id: str, external_id_type: str) -> int:
        external_id, id_type = external_id_pair(external_id, external_id_type)
        with self.scope.db.reading() as conn:
            found = list_store.list_with_external_id(conn, self._account_id, id_type, external_id)
        if found is None:
            raise NotFound(
                f"mailing list with external id {external_id!r} of type {id_type!r} not found"
            )
        return found

    def health(self, list_ids: list[int]) -> dict[int, int]:
        """Each list's health (domain.lists.health_percent): static lists in one grouped query,
        dynamic ones by their condition. Segment lists have no members known here: 100."""
        wanted = list(dict.fromkeys(list_ids))
        with self.scope.db.reading() as conn:
            found = [self._get(conn, list_id, with_counts=False) for list_id in wanted]
            static = [m.id for m in found if m.kind is ListKind.STATIC]
            counts = list_store.static_health_counts(conn, self._account_id, static)
            for mailing_list in found:
                if mailing_list.kind is ListKind.DYNAMIC:
                    counts[mailing_list.id] = list_store.dynamic_health_counts(
                        conn, self._account_id, mailing_list
                    )
        return {list_id: health_percent(*counts.get(list_id, (0, 0))) for list_id in wanted}

    def members_by_condition(
        self,
        list_id: int,
        condition: MemberCondition,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        property_names: list[str] | None = None,
    ) -> MemberRows:
        """The list's contacts that match the condition, with the named properties (every
        property of the account when none are named)."""
        if condition is MemberCondition.NEW:
            since = until = None
        if since is not None and until is not None and since > until:
            raise Invalid("from must not be later than to")
        with self.scope.db.reading() as conn:
            mailing_list = self._readable(conn, list_id)
            names = _report_columns(
                [p.name for p in property_store.all_properties(conn, self._account_id)],
                property_names,
            )
            ids = list_store.member_ids_by_condition(
                self._account_id, mailing_list, condition, since, until
            )
            rows = list_store.contact_rows(conn, self._account_id, ids)
        return MemberRows(
            names,
            [
                (row.email, row.sms, [str((row.properties or {}).get(n, "")) for n in names])
                for row in rows
            ],
        )

    def request_target_group(self, list_id: int) -> Job:
        """Records the list's target group as a job. Dynamic lists are evaluated on every read,
        so there is nothing to materialise: the job's work counts the members as they are."""
        with self.scope.db.reading() as conn:
            self._readable(conn, list_id)

        def count_target_group() -> dict:
            with self.scope.db.reading() as conn:
                counted = list_store.count_members(
                    conn, self._account_id, self._readable(conn, list_id)
                )
            return {"members": counted, "counted_at": self.scope.clock().isoformat()}

        return self._jobs.run_now(JobKind.TARGET_GROUP, count_target_group, subject_id=list_id)

    def _set_external_id(self, conn: Connection, list_id: int, external_id: str, id_type: str):
        holder = list_store.list_with_external_id(conn, self._account_id, id_type, external_id)
        if holder is not None and holder != list_id:
            raise Conflict(
                f"external id {external_id!r} of type {id_type!r} belongs to mailing list {holder}"
            )
        try:
            list_store.set_external_id(conn, self._account_id, list_id, id_type, external_id)
        except IntegrityError:
            # Another request gave the id to another list between the check and the insert.
            raise Conflict(f"external id {external_id!r} of type {id_type!r} is taken") from None

    def _get(
        self, conn: Connection, list_id: int, *, with_sms: bool = False, with_counts: bool = True
    ) -> MailingList:
        found = list_store.find_list(
            conn, self._account_id, list_id, with_sms=with_sms, with_counts=with_counts
        )
        if found is None:
            raise NotFound(f"mailing list {list_id} not found")
        return found

    def _readable(self, conn: Connection, list_id: int) -> MailingList:
        found = self._get(conn, list_id, with_counts=False)
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


def _external_type(external_id_type: str | None) -> str:
    cleaned = (external_id_type or "").strip()
    if not cleaned:
        raise Invalid("external id type is required")
    return cleaned


def _report_columns(known: list[str], asked: list[str] | None) -> list[str]:
    """The property columns of a member report: the ones asked for, in that order, or every
    property. email and sms are always the first two columns, so naming them adds nothing."""
    if not asked:
        return known
    wanted = [name for name in dict.fromkeys(asked) if name not in ("email", "sms")]
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise Invalid(f"unknown properties in cols: {', '.join(unknown)}")
    return wanted
