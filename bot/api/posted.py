"""The field values a kodosumi client posts: a JSON object, or a form as a browser posts it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from pydantic_core import from_json

from bot.api.http import body, refuse


async def posted_values(request: web.Request) -> dict[str, Any]:
    """The posted field values: a JSON object, or a form as a browser posts it
    (``application/x-www-form-urlencoded`` or ``multipart/form-data``, kodosumi's docs launch
    so), a field posted twice a list of its values."""
    raw = await body(request)
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        kind = request.headers.get("Content-Type", "")
        try:  # off the event loop: a megabyte of tiny multipart fields takes seconds to read
            fields = await asyncio.to_thread(posted, raw, kind)
        except ValueError as exc:  # (a UnicodeError is one)
            raise refuse(400, "bad_request", f"body: not a form ({exc})") from None
        named: dict[str, list[Any]] = {}
        for key, value in fields:
            named.setdefault(key, []).append(value)
        return {k: v[0] if len(v) == 1 else v for k, v in named.items()}
    try:  # read as the API's own routes read a body: nested as deep as they take, no more
        values = from_json(raw or b"{}")
    except ValueError:  # not JSON, or nested deeper than the trail can be written out
        values = {}  # as kodosumi: a body that is not JSON is no values
    return values if isinstance(values, dict) else {}


def posted(raw: bytes, content_type: str) -> Sequence[tuple[str, str | None]]:
    """A form's fields as a browser posts them, from the whole body (``content_type``: the
    request's header): URL-encoded or multipart, in UTF-8 (or, for a multipart field, the
    charset it names). A file is its field's name with no value. ``ValueError`` when the body
    is not such a form."""
    if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        charset = Message()
        charset["Content-Type"] = content_type
        if (charset.get_content_charset() or "utf-8") not in ("utf-8", "utf8"):
            raise ValueError("a form is read in UTF-8 only")
        return parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    try:  # the parser recurses into each part nested in another
        form = BytesParser(policy=HTTP).parsebytes(head + raw)
    except RecursionError:
        raise ValueError("parts nested too deep") from None
    if not form.is_multipart() or form.defects:
        raise ValueError("not a multipart form")
    fields: list[tuple[str, str | None]] = []
    for part in form.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.defects:
            raise ValueError("a part without a field name")
        if part.get_filename() is not None:
            fields.append((name, None))  # a file: nothing a form field holds
            continue
        data = part.get_payload(decode=True)
        try:
            text = (
                data.decode(part.get_content_charset() or "utf-8")
                if isinstance(data, bytes)
                else ""
            )
        except LookupError:  # a charset no one knows
            raise ValueError("a field in an unknown charset") from None
        fields.append((name, text))
    return fields
