"""HTTP as bytes on a socket, for requests aiohttp's client will not send: headers that are not
UTF-8, request lines too long, a header twice."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit


def request(method: str, path: bytes, headers: dict[bytes, bytes], body: bytes = b"") -> bytes:
    lines = [method.encode() + b" " + path + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    lines += [name + b": " + value for name, value in headers.items()]
    lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def send(url: str, raw: bytes) -> int:
    """Send ``raw`` to the server at ``url``; the status it answers with."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(raw)
        await writer.drain()
        head = await asyncio.wait_for(reader.readline(), 10)
        return int(head.split()[1])
    finally:
        writer.close()
