"""The import log text, as getImportLog returns it."""

from __future__ import annotations

from kirje.domain import import_log
from kirje.domain.import_log import import_log_text
from kirje.domain.imports import ImportCounts, LogSection, RejectedLine

# The seed's getImportLog response sample, with "listname" and "lista" both the list's name.
SEED_LOG = (
    "Import summary:\n 1 records imported to lista\n\nDetails:\n Source CSV file had 2 lines\n"
    " New records: 1\n Updated records: 0\n Duplicates: 0\n Empty email or SMS: 0\n Rejected: 0\n"
    " Unsubscribed: 0\n Deleted: 0\n Domain rejected: 0\n Member limit exceeded: 0\n"
    " Target list: lista\n Import took 0 s\n\nCancelled subscriptions:\n None\n\n"
    "Deleted subscribers:\n None\n\nDomain rejected records:\n All OK\n\n"
    "Member limit exceeded records:\n None\n\nRejected records:\n All OK\n\n"
    "Errors:\n No errors\n"
)


def test_the_seed_sample_is_reproduced_exactly() -> None:
    counts = ImportCounts(source_lines=2, new=1)
    assert import_log_text(counts, [], list_name="lista", seconds=0) == SEED_LOG


def test_refused_lines_are_listed_in_their_sections_by_line() -> None:
    counts = ImportCounts(source_lines=9, new=2, updated=1, empty=1, rejected=2, unsubscribed=1)
    refused = [
        RejectedLine(7, LogSection.REJECTED, "invalid email address", "foo@"),
        RejectedLine(3, LogSection.EMPTY, "no email or SMS", ""),
        RejectedLine(5, LogSection.REJECTED, "wrong number of fields (1, header has 3)", "x"),
        RejectedLine(4, LogSection.UNSUBSCRIBED, "unsubscribed", "ann@example.com"),
        RejectedLine(8, LogSection.DUPLICATE, "duplicate", "bob@example.com"),
    ]
    text = import_log_text(counts, refused, list_name="News", seconds=3, errors=["disk full"])
    assert text.startswith("Import summary:\n 3 records imported to News\n")
    assert " Target list: News\n Import took 3 s\n" in text
    assert "\nCancelled subscriptions:\n line 4: unsubscribed: ann@example.com\n\n" in text
    assert (
        "\nRejected records:\n"
        " line 3: no email or SMS\n"
        " line 5: wrong number of fields (1, header has 3): x\n"
        " line 7: invalid email address: foo@\n\n"
    ) in text
    assert "bob@example.com" not in text
    assert text.endswith("\nErrors:\n disk full\n")


def test_a_huge_section_is_cut_with_a_count(monkeypatch) -> None:
    monkeypatch.setattr(import_log, "MAX_LINES_PER_SECTION", 2)
    refused = [RejectedLine(n, LogSection.DELETED, "deleted", f"{n}@x.fi") for n in range(2, 7)]
    text = import_log_text(ImportCounts(deleted=5), refused, list_name="L", seconds=1)
    assert (
        "\nDeleted subscribers:\n line 2: deleted: 2@x.fi\n line 3: deleted: 3@x.fi\n"
        " ... and 3 more lines\n\n"
    ) in text
