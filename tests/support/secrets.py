"""Known test credentials, and a log handler that keeps every record's full text for checking."""

import logging
import re
from typing import override

from .remote_server import ISSUED_TOKENS

# Passwords the tests give the integration. Ordinary words that tests also use as wrong
# passwords ("wrong", "nope", "changed") are left out: they legitimately appear in log text.
TEST_PASSWORDS = frozenset({"secret", "rotated", "Pw-Reliability-93f1"})


class LogCapture(logging.Handler):
    """Keeps the rendered message, arguments and traceback of every record, at every level."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.texts: list[str] = []
        self._formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")

    @override
    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self._formatter.format(record)
        except Exception:  # a broken record must not hide the others
            text = f"{record.msg!r} {record.args!r}"
        self.texts.append(f"{text} {record.args!r}")


def leaked_secrets(texts: list[str]) -> list[str]:
    """The known secrets found in the texts (tokens anywhere, passwords as whole words)."""
    found: set[str] = set()
    for text in texts:
        found |= {token for token in ISSUED_TOKENS if token in text}
        found |= {pw for pw in TEST_PASSWORDS if re.search(rf"(?<![\w-]){re.escape(pw)}(?![\w-])", text)}
    return sorted(found)
