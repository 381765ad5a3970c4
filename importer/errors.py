"""What an import refuses, as messages for the user (every one a ShopError: no traceback)."""

from __future__ import annotations

from shopcore.errors import ShopError


class ImportFailed(ShopError):
    """Base of the importer's errors: nothing was written."""


class UnknownFormat(ImportFailed):
    """A header that matches no known format (the message lists them and their columns)."""


class MissingColumns(ImportFailed):
    """The format was given (or guessed from the file name) but the header lacks columns it needs."""


class UnreadableFile(ImportFailed):
    """A file that does not exist, is empty, is not the encoding given, or does not parse."""


class TooManyRejected(ImportFailed):
    """More rows failed validation than --max-rejected allows: the whole import rolled back."""

    def __init__(self, message: str, result: object) -> None:
        super().__init__(message)
        self.result = result
