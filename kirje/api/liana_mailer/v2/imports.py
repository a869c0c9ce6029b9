"""v2 list import: a keyed body with a Base64 file, into a list chosen by id or by name and
folder."""

from __future__ import annotations

import io
from typing import Literal

import msgspec

from kirje.api.liana_mailer.dispatch import Call, keyed_options
from kirje.domain.errors import Invalid
from kirje.domain.imports import ImportFormat, ImportOptions

# "xls" in the seed; spreadsheets are recognised by content, so .xlsx is accepted too.
FORMATS = {"csv": ImportFormat.CSV, "xls": ImportFormat.XLS, "xlsx": ImportFormat.XLS}


class MailingListImport(msgspec.Struct):
    data: str = ""
    type: Literal["csv", "xls", "xlsx"] = "csv"
    list_id: int | None = None
    name: str | None = None
    folder: str | None = None
    truncate: bool = False
    consent_id: int | None = None
    consent_lang: str | None = None


def import_mailinglist(ctx: Call, body: dict) -> dict:
    request = keyed_options(body, MailingListImport, "body")
    if not request.data:
        raise Invalid("data (the Base64 file) is required")
    list_id = ctx.lists.for_import(
        list_id=request.list_id, name=request.name, folder=request.folder
    )
    options = ImportOptions(
        list_id=list_id,
        format=FORMATS[request.type],
        truncate=request.truncate,
        consent_id=request.consent_id,
        consent_lang=request.consent_lang,
    )
    job = ctx.imports.start(
        io.BytesIO(request.data.encode("ascii", "replace")), options, base64=True
    )
    return {"list_id": list_id, "import_id": job.id, "succeed": True}
