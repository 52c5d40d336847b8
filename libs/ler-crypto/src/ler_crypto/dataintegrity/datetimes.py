"""XML Schema ``dateTimeStamp`` values (XMLSCHEMA11-2 §3.4.28): dateTime with a time zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

# XMLSCHEMA11-2 dateTime lexical space with the explicit time zone that
# dateTimeStamp requires. Years beyond 9999 and "24:00:00" are lexically valid
# but not representable by Python's datetime; they are rejected as unsupported.
_DATE_TIME_STAMP = re.compile(
    r"^(?P<year>-?(?:[1-9][0-9]{3,}|0[0-9]{3}))-(?P<month>0[1-9]|1[0-2])-(?P<day>0[1-9]|[12][0-9]|3[01])"
    r"T(?P<hour>[01][0-9]|2[0-3]):(?P<minute>[0-5][0-9]):(?P<second>[0-5][0-9])(?P<frac>\.[0-9]+)?"
    r"(?P<tz>Z|[+-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00))$"
)


def parse_datetimestamp(value: object) -> datetime:
    """Parse an XSD dateTimeStamp into an aware datetime; ValueError if invalid."""
    if not isinstance(value, str):
        raise ValueError("dateTimeStamp must be a string")
    match = _DATE_TIME_STAMP.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not an XML Schema dateTimeStamp (time zone required)")
    year = int(match["year"])
    if not 1 <= year <= 9999:
        raise ValueError(f"{value!r}: year outside the supported range 0001-9999")
    frac = match["frac"] or ""
    micro = int((frac[1:] + "000000")[:6]) if frac else 0
    tz_text = match["tz"]
    if tz_text == "Z":
        tz: timezone = UTC
    else:
        sign = 1 if tz_text[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(tz_text[1:3]), minutes=int(tz_text[4:6])))
    try:
        return datetime(
            year,
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            micro,
            tzinfo=tz,
        )
    except ValueError as err:  # e.g. February 30
        raise ValueError(f"{value!r} is not a valid calendar date-time") from err


def is_datetimestamp(value: object) -> bool:
    """True for a valid XSD dateTimeStamp string."""
    try:
        parse_datetimestamp(value)
    except ValueError:
        return False
    return True


def format_datetimestamp(moment: datetime) -> str:
    """UTC, second precision, ``Z`` suffix (the form the W3C vectors use)."""
    if moment.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
