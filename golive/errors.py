"""The one exception type for user mistakes: the CLI prints it as a message, never a traceback."""


class UserError(Exception):
    """Something the user can fix (a bad flag, file, row or config value); the message says how."""
