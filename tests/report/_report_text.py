"""What a report must never show a reader (shared by the content and browser tests)."""

from __future__ import annotations

import re

#: Python's None, NaN, a CI made of two dashes ("--", "0.00 0.00--")
BAD_TEXT = re.compile(r"\bNone\b|\bnan\b|\bNaN\b|(?<![\w-])-+\s*-+(?![\w-])|\d-{2,}|\b0\.00 0\.00")
