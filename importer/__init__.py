"""`shop import`: real shops' event data into the raw tables (raw, REES46, RetailRocket, Shopify orders).

A part beside the simulator: it imports only shopcore and itself. The service is `run_import`;
the command (`shop/cli/importing.py`) parses, calls it and prints.
"""

from importer.errors import ImportFailed, MissingColumns, TooManyRejected, UnknownFormat, UnreadableFile
from importer.formats import FORMATS, describe_formats
from importer.service import ImportResult, RejectLimit, run_import

__all__ = [
    "FORMATS", "ImportFailed", "ImportResult", "MissingColumns", "RejectLimit", "TooManyRejected", "UnknownFormat",
    "UnreadableFile", "describe_formats", "run_import",
]
