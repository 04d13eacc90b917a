"""An HTTP client for a backend URL that a visitor typed: it connects only to the address that was checked.

``addresses.py`` decides which addresses a typed URL may reach; this file makes the connection keep to
that decision. The ``openai`` client normally resolves the host name itself, when it connects -- so a name
could resolve to a public address when checked and to 127.0.0.1 a moment later (DNS rebinding). Here the
transport resolves each client's host once, checks every address through the ``AddressPolicy``, and sends
the request to one of those IPs (the first that accepts a connection, then that one for the client's
other requests). The URL's name stays where it belongs: the Host header, TLS's server name (SNI)
and the certificate check are all for the name typed, not the IP. A redirect is followed only to the same
scheme, host and port (so to the same checked address); one to another server is refused. Environment
proxies (``HTTPS_PROXY``) are not used for these clients: the connection must go to the checked address.

>>> client = pinned_client("http://127.0.0.1:9/v1", AddressPolicy(allow_loopback=True))
>>> type(client._transport).__name__
'PinnedTransport'
>>> client.close()
"""

from __future__ import annotations

import ipaddress

import httpx2

from ..errors import AddressRefused
from .addresses import DEFAULT_PORTS, AddressPolicy, url_host_port


def is_ip_literal(host: str) -> bool:
    """Whether ``host`` is written as an IP address rather than a name.

    >>> is_ip_literal("127.0.0.1"), is_ip_literal("::1"), is_ip_literal("example.com")
    (True, True, False)
    """
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def origin(url: httpx2.URL) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL, the host IDNA-encoded and the port filled in.

    >>> origin(httpx2.URL("https://LLM.example/v1")), origin(httpx2.URL("http://[::1]:8000/v1"))
    (('https', 'llm.example', 443), ('http', '::1', 8000))
    """
    scheme = url.scheme.lower()
    return scheme, url.raw_host.decode("ascii").lower(), url.port or DEFAULT_PORTS.get(scheme, 80)


class PinnedTransport(httpx2.HTTPTransport):
    """Sends every request to one origin's checked address; refuses any other origin (a redirect there)."""

    def __init__(self, base_url: str, policy: AddressPolicy, shown_url: str, **kwargs):
        super().__init__(**kwargs)
        host, port = url_host_port(base_url)
        self._origin = (httpx2.URL(base_url).scheme.lower(), host, port)
        self._policy, self._shown = policy, shown_url
        self._addresses: list[str] | None = None   # resolved and checked on the first request, then reused

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        scheme, host, port = origin(request.url)
        if (scheme, host, port) != self._origin:
            raise AddressRefused(f"Refused: the backend at {self._shown} redirected to another server (a "
                                 "different scheme, host or port); redirects are followed only within the "
                                 "same server. Give the final URL instead.")
        if self._addresses is None:
            self._addresses = self._policy.resolve(host, port, self._shown)
        extensions = dict(request.extensions)
        if scheme == "https" and not is_ip_literal(host):
            extensions["sni_hostname"] = host          # TLS name and certificate check: the typed name
        for i, address in enumerate(self._addresses):
            pinned = httpx2.Request(request.method, request.url.copy_with(host=address), headers=request.headers,
                                    stream=request.stream, extensions=extensions)
            try:
                response = super().handle_request(pinned)   # Host header: still the typed name (``request``'s)
            except httpx2.ConnectError:
                if i == len(self._addresses) - 1:
                    raise
                continue                                 # nothing was sent: try the next checked address
            self._addresses = self._addresses[i:]        # this one answered: the client's next requests go here
            return response
        raise AssertionError("resolve() returns at least one address")


def pinned_client(base_url: str, policy: AddressPolicy, shown_url: str = "", **client_options) -> httpx2.Client:
    """An ``httpx2.Client`` for the ``openai`` client's ``http_client``, pinned as the module docstring says."""
    transport = PinnedTransport(base_url, policy, shown_url or base_url)
    return httpx2.Client(transport=transport, follow_redirects=True, **client_options)
