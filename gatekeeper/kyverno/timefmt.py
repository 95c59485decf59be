"""Time values as Kyverno's time functions read and write them: RFC 3339 text and Go layouts."""

from __future__ import annotations

import datetime as dt
import re

_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
# Go reference-time tokens, longest first, mapped to strptime directives
_GO_TOKENS = [
    ("January", "%B"), ("Monday", "%A"), ("2006", "%Y"), ("-07:00", "%z"), ("-0700", "%z"), ("Z07:00", "%z"),
    ("Z0700", "%z"), ("Jan", "%b"), ("Mon", "%a"), ("MST", "%Z"), ("01", "%m"), ("02", "%d"), ("_2", "%d"),
    ("15", "%H"), ("03", "%I"), ("04", "%M"), ("05", "%S"), ("06", "%y"), ("PM", "%p"), ("pm", "%p"),
    ("1", "%m"), ("2", "%d"), ("3", "%I"), ("4", "%M"), ("5", "%S"),
]
_FRACTION = re.compile(r"[.,](0+|9+)")


def parse_rfc3339(text: str) -> dt.datetime:
    """An RFC 3339 timestamp; ValueError otherwise."""
    m = _RFC3339.match(text.strip()) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"{text!r} is not an RFC 3339 time")
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    micro = int((m.group(7) or ".0")[1:7].ljust(6, "0"))
    zone = m.group(8)
    if zone in ("Z", "z"):
        tz = dt.timezone.utc
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = dt.timezone(sign * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    return dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)


def format_rfc3339(value: dt.datetime) -> str:
    """Go's RFC 3339 output: ``2023-01-02T15:04:05Z`` (offset when not UTC, no fraction)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    offset = value.utcoffset() or dt.timedelta(0)
    base = value.strftime("%Y-%m-%dT%H:%M:%S")
    if offset == dt.timedelta(0):
        return base + "Z"
    total = int(offset.total_seconds())
    sign = "+" if total >= 0 else "-"
    total = abs(total)
    return f"{base}{sign}{total // 3600:02d}:{total % 3600 // 60:02d}"


def go_layout_to_strptime(layout: str) -> str:
    """Translate a Go time layout (``2006-01-02 15:04``) to a strptime format."""
    out: list[str] = []
    i = 0
    while i < len(layout):
        frac = _FRACTION.match(layout, i)
        if frac is not None and out and out[-1] == "%S":
            out.append(".%f")
            i = frac.end()
            continue
        for token, directive in _GO_TOKENS:
            if layout.startswith(token, i):
                out.append(directive)
                i += len(token)
                break
        else:
            out.append("%%" if layout[i] == "%" else layout[i])
            i += 1
    return "".join(out)


def parse_layout(layout: str, text: str) -> dt.datetime:
    """Parse ``text`` with a Go layout (empty layout: RFC 3339); naive results are UTC."""
    if not layout or layout in ("2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05.999999999Z07:00"):
        return parse_rfc3339(text)
    fmt = go_layout_to_strptime(layout)
    value = text.replace("Z", "+0000") if "%z" in fmt else text
    parsed = dt.datetime.strptime(value, fmt)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.timezone.utc)
