"""What a path holds, read before SQLite opens it or an export overwrites it: SQLite itself says only "file is not a
database" or "unable to open database file", and an overwrite cannot be undone."""

from __future__ import annotations

import os
from pathlib import Path

SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file


def is_sqlite_database(path: Path) -> bool:
    """True for a file that starts with SQLite's header."""
    with path.open("rb") as file:
        return file.read(len(SQLITE_HEADER)) == SQLITE_HEADER


def sqlite_store_problem(path: Path) -> str | None:
    """Why SQLite cannot keep a database at `path` (a folder; an existing file, not empty, that is no SQLite
    database), or None. A missing or empty file is fine: SQLite creates the database there. `path` is checked as
    the file it names once its missing folders exist (`new/../data.tsv` is data.tsv)."""
    path = Path(os.path.realpath(path))
    if path.is_dir():
        return "is a folder"
    if path.is_file() and path.stat().st_size and not is_sqlite_database(path):
        return "is not a SQLite database"
    return None
