"""Errors a snippet sees when the egress policy refuses something.

Each refusal is also the client's own error type, so snippet code that catches
`requests.exceptions.RequestException` or `httpx.HTTPError` keeps working:

    EgressRefused                     every refusal; the sandbox can test for this one
    ├── RequestRefused                urllib3 level (requests, hubspot); a requests
    │                                 ConnectionError and a urllib3 HTTPError
    ├── HttpxRequestRefused           httpx level; an httpx.ConnectError
    ├── SocketRefused                 connect level; a PermissionError, which every client
    │                                 reports as its own connection error
    ├── ResponseTooLarge              body over the cap while urllib3 preloads it; a
    │   │                             urllib3 HTTPError that urllib3 does not retry
    │   └── StreamedResponseTooLarge  body over the cap while the caller streams it; a
    │                                 urllib3 ProtocolError (requests: ChunkedEncodingError)
    └── HttpxResponseTooLarge         body over the cap in httpx; an httpx.ReadError
"""

from __future__ import annotations

import httpx
import requests
import urllib3


class EgressRefused(Exception):
    pass


class RequestRefused(
    EgressRefused, requests.exceptions.ConnectionError, urllib3.exceptions.HTTPError
):
    pass


class HttpxRequestRefused(EgressRefused, httpx.ConnectError):
    pass


class SocketRefused(EgressRefused, PermissionError):
    pass


class ResponseTooLarge(EgressRefused, urllib3.exceptions.HTTPError):
    pass


class StreamedResponseTooLarge(ResponseTooLarge, urllib3.exceptions.ProtocolError):
    pass


class HttpxResponseTooLarge(EgressRefused, httpx.ReadError):
    pass
