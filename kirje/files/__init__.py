"""Reading uploaded files: encodings, CSV dialects, spreadsheets and JSON import documents."""

from kirje.files.reading import check_import, read_import

__all__ = ["check_import", "read_import"]
