"""Replace personal data in a text with typed placeholders, before the text is stored anywhere.

What is found: e-mail addresses, phone numbers (international `+CC ...` and common national formats, or any
number after a cue such as "call" or "tel"), card numbers (only when the Luhn check passes), IBANs (only when
the ISO 13616 mod-97 check passes) and IPv4/IPv6 addresses (only when `ipaddress` parses them). Each becomes
`[EMAIL]`, `[PHONE]`, `[CARD]`, `[IBAN]` or `[IP]`; a placeholder holds nothing a pattern matches, so redacting
twice changes nothing.

**Names are not redacted.** Why a small standard-library module and not a library: the Lambda imports this
(cold start and package size count) and may not download models at run time. Presidio and scrubadub find names
only through an NER model (spaCy, Stanford NER: hundreds of MB and seconds of import, plus a model download);
their pattern recognisers alone are no better than these patterns. `phonenumbers` (Google's libphonenumber)
validates phone numbers per country but is several MB of metadata for one kind of data; the patterns here err
on the side of redacting. Checksums (Luhn, mod-97) and `ipaddress` keep look-alikes (order numbers, dates,
version strings, prices) as they are.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field

KINDS = ("EMAIL", "IBAN", "CARD", "IP", "PHONE")  # the order they are looked for: e-mails hold digits, etc.


@dataclass(frozen=True)
class Redacted:
    text: str
    counts: dict[str, int] = field(default_factory=dict)  # kind -> how many were replaced; kinds not found absent

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    """ISO 13616: 15 to 34 characters, country letters, check digits; rearranged and read as a number, mod 97 is 1."""
    iban = candidate.replace(" ", "").upper()
    if not (15 <= len(iban) <= 34 and iban[:2].isalpha() and iban[2:4].isdigit() and iban.isalnum()):
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
# country, check digits, then groups of up to four (printed with or without spaces)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{1,4}){3,8}\b")
_CARD = re.compile(r"(?<![\w.-])\d(?:[ -]?\d){12,18}(?![\w-]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|\d{1,3}(?:\.\d{1,3}){3})?(?![\w:]|\.\d)")
_IPV4 = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w]|\.\d)")
_PHONE = re.compile(
    r"(?<![\w+./-])(?:"
    r"\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,5}(?:[ .-]?\d{1,5}){1,5}"  # international: +44 20 7946 0958
    r"|\(\d{3}\) ?\d{3}[ .-]\d{4}"  # (555) 123-4567
    r"|\d{3}[.-]\d{3}[.-]\d{4}"  # 555-123-4567
    r"|(?:\(0\d{1,4}\)|0\d{1,4})[ ./-]?\d{2,4}(?:[ ./-]?\d{2,4}){1,4}"  # 020 7946 0958, 06 12 34 56 78, 030/1234567
    r")(?!\w)"
)
# any number after a cue word: "call me on 5551234567"
_CUED_PHONE = re.compile(
    r"(?i)\b(?:phone|tel|telephone|mobile|cell|call|fax|whatsapp)\b\W{0,3}(?:\w+\W{1,3}){0,2}?"
    r"(\+?\d[\d ().-]{5,}\d)(?!\w)"
)
_VERSION_CUE = re.compile(r"(?i)\b(?:version|release|build)\s*$")  # "version 3.11.4.2" is not an address
_DATE_LIKE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}(?!\d)")


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _iban(match: re.Match[str]) -> str | None:
    """The longest IBAN starting at the match (a trailing group may be the next word), if any passes mod-97."""
    parts = match.group().split(" ")
    for end in range(len(parts), 0, -1):
        candidate = " ".join(parts[:end])
        if iban_valid(candidate):
            return "[IBAN]" + str(match.group())[len(candidate) :]
    return None


def _card(match: re.Match[str]) -> str | None:
    return "[CARD]" if luhn_valid(_digits(match.group())) else None


def _ip(match: re.Match[str]) -> str | None:
    if _VERSION_CUE.search(match.string, 0, match.start()):
        return None
    try:
        ipaddress.ip_address(match.group())
    except ValueError:
        return None
    return "[IP]"


def _phone(match: re.Match[str]) -> str | None:
    number = match.group()
    if not 7 <= len(_digits(number)) <= 15 or (not number.startswith("+") and _DATE_LIKE.match(number)):
        return None
    return "[PHONE]"


def _cued_phone(match: re.Match[str]) -> str | None:
    number = match.group(1)
    if not 7 <= len(_digits(number)) <= 15 or _DATE_LIKE.match(number):
        return None
    start = match.start(1) - match.start()
    return str(match.group())[:start] + "[PHONE]"


_FINDERS: tuple[tuple[str, re.Pattern[str], Callable[[re.Match[str]], str | None]], ...] = (
    ("EMAIL", _EMAIL, lambda m: "[EMAIL]"),
    ("IBAN", _IBAN, _iban),
    ("CARD", _CARD, _card),
    ("IP", _IPV6, _ip),
    ("IP", _IPV4, _ip),
    ("PHONE", _PHONE, _phone),
    ("PHONE", _CUED_PHONE, _cued_phone),
)


def redact(text: str) -> Redacted:
    """`text` with each piece of personal data replaced by its placeholder, and how many of each kind.

    Passes repeat until one finds nothing: a replacement can free a neighbour that the character before it
    hid ("++33 1 42 68 53 00"), and a stored text must not change when redacted again. Each pass that finds
    something removes digits or an "@", so this ends."""
    counts: dict[str, int] = {}
    found = True
    while found:
        found = False
        for kind, pattern, replacement in _FINDERS:

            def replace(
                match: re.Match[str],
                kind: str = kind,
                replacement: Callable[[re.Match[str]], str | None] = replacement,
            ) -> str:
                nonlocal found
                new = replacement(match)
                if new is None:
                    return str(match.group())
                counts[kind] = counts.get(kind, 0) + 1
                found = True
                return new

            text = pattern.sub(replace, text)
    return Redacted(text, counts)
