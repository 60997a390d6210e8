"""Number lists: blacklist, whitelist (VIP) and do-not-call; normalization, matching, CSV."""

from ctilink.lists.csvio import ImportReport, export_csv, export_lists, import_csv, import_lists
from ctilink.lists.matcher import ListMatcher
from ctilink.lists.model import (
    GLOBAL,
    BlockAction,
    Entry,
    EntryKind,
    InvalidEntryError,
    ListName,
    build_entry,
    normalize_scope,
    parse_number_spec,
)
from ctilink.lists.numbers import (
    ANONYMOUS,
    InvalidNumberError,
    UnknownRegionError,
    is_withheld,
    normalize_number,
    normalize_prefix,
)
from ctilink.lists.safety import UnsafeTextError, escape_for_log

__all__ = [
    "ANONYMOUS",
    "GLOBAL",
    "BlockAction",
    "Entry",
    "EntryKind",
    "ImportReport",
    "InvalidEntryError",
    "InvalidNumberError",
    "ListMatcher",
    "ListName",
    "UnknownRegionError",
    "UnsafeTextError",
    "build_entry",
    "escape_for_log",
    "export_csv",
    "export_lists",
    "import_csv",
    "import_lists",
    "is_withheld",
    "normalize_number",
    "normalize_prefix",
    "normalize_scope",
    "parse_number_spec",
]
