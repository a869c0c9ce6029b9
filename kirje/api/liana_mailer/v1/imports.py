"""v1 list imports: CSV and JSON uploads queued as jobs, their status and their log."""

from __future__ import annotations

import base64
import io

from kirje.api.liana_mailer.dispatch import Call
from kirje.domain.errors import Invalid
from kirje.domain.imports import ImportFormat, ImportOptions


def import_csv_to_mailing_list(
    ctx: Call,
    list_id: int,
    properties_client: str | None = None,  # deprecated: the seed says set it to null
    csv: str = "",
    receipt: str | None = None,  # deprecated
    base64_encoded: bool = False,
    truncate: bool = False,
    disable_cem_events: bool = False,
    use_list_props: bool = False,  # Kirje keeps properties per contact: read as false
    use_duplicates: bool = False,
    fork: str | None = None,  # deprecated
    user_id: int | None = None,
    import_id: int | None = None,
    consent_id: int | None = None,
    consent_lang: str | None = None,
) -> None:
    options = ImportOptions(
        list_id=list_id,
        format=ImportFormat.CSV,
        truncate=truncate,
        consent_id=consent_id,
        consent_lang=consent_lang,
        use_duplicates=use_duplicates,
        disable_cem_events=disable_cem_events,
    )
    ctx.imports.start(_upload(csv), options, base64=base64_encoded)


def import_json_to_mailing_list(ctx: Call, list_id: int, emails: str) -> bool:
    ctx.imports.start(
        _upload(emails, "emails"), ImportOptions(list_id=list_id, format=ImportFormat.JSON)
    )
    return True


def get_import_status(ctx: Call, list_id: int) -> int:
    return ctx.imports.status(list_id)


def get_import_log(ctx: Call, list_id: int, base64encoded: bool = False) -> str:
    text = ctx.imports.log(list_id)
    return base64.b64encode(text.encode("utf-8")).decode("ascii") if base64encoded else text


def is_import_csv_to_mailing_list_allowed(
    ctx: Call,
    list_id: int,
    properties_client: str | None = None,
    csv: str = "",
    receipt: str | None = None,
    base64_encoded: bool = False,
    truncate: bool = False,
) -> str:
    """The dry run of the domain checks: the addresses an import would refuse, as CSV."""
    refused = ctx.imports.refused_addresses(list_id, _upload(csv), base64=base64_encoded)
    return "".join(f"{line}\n" for line in ["email", *refused]) if refused else ""


def _upload(text: str, name: str = "csv") -> io.BytesIO:
    # The file arrives inside the JSON body: as text (or Base64 text), stored as UTF-8 bytes.
    # The seed marks it required; it sits after optional parameters, hence the check here.
    if not text:
        raise Invalid(f"parameter {name} (the file's content) is required")
    return io.BytesIO(text.encode("utf-8"))
