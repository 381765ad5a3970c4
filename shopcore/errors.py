"""Errors that the command line shows as a message (what is wrong, what to do), not a traceback."""


class ShopError(Exception):
    """A problem the user can fix; the message says how."""
