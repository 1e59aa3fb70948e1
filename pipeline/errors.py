"""The one exception type for mistakes a user can fix (bad path, bad config, bad mapping).

The CLI prints it as one line and exits with code 2; everything else is an internal error.
"""


class UserError(Exception):
    """A problem with the user's input or settings, with what to do about it."""
