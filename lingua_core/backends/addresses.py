"""Where a backend URL that a visitor typed may lead: which addresses are public, and the policy that checks one.

A public app that sends HTTP requests to any address a visitor types is a server-side request forgery
waiting to happen: ``http://169.254.169.254/`` (cloud metadata), ``http://localhost:6379/``, hosts on the
private network. So a typed URL's host name is resolved here, every address it resolves to is classified
(``address_kind``), and an ``AddressPolicy`` says which kinds may be reached:

* public-host mode (``SPACE_ID`` set, or ``LINGUA_PUBLIC=1``): public internet addresses only;
* the local default: public addresses and loopback (the user's own machine: Ollama at localhost:11434);
* ``LINGUA_ALLOW_PRIVATE_BACKEND=1``: any address (the host opted in).

The host's own backend (``LINGUA_BACKEND_URL``) is the host's choice and is never checked. This file is the
stdlib-only half: ``pinned.py`` is the HTTP transport that connects to exactly the address checked here
(so a second DNS answer cannot swap it), keeps TLS and the Host header on the typed name, and refuses
redirects to another server.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..config import settings
from ..errors import AddressRefused, BackendError

DEFAULT_PORTS = {"http": 80, "https": 443}
_PRIVATE_NETS = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                         "fc00::/7", "fec0::/10"))
KINDS = {  # address kind -> how a message names it
    "loopback": "a loopback address (the machine this app runs on)",
    "link-local": "a link-local address (where cloud metadata services answer)",
    "private": "a private-network address",
    "non-public": "a non-public address (unspecified, shared, reserved, multicast or for documentation)",
}


def address_kind(ip: str) -> str:
    """"public", or the kind of non-public address ``ip`` is (a key of ``KINDS``). IPv6 forms that carry an
    IPv4 address (``::ffff:a.b.c.d``, 6to4, NAT64) are judged by that address.

    >>> address_kind("8.8.8.8"), address_kind("2001:4860:4860::8888"), address_kind("127.0.0.2"), address_kind("::1")
    ('public', 'public', 'loopback', 'loopback')
    >>> address_kind("169.254.169.254"), address_kind("fe80::1%eth0"), address_kind("10.0.0.1")
    ('link-local', 'link-local', 'private')
    >>> address_kind("::ffff:127.0.0.1"), address_kind("2002:7f00:1::"), address_kind("64:ff9b::a00:1")
    ('loopback', 'loopback', 'private')
    >>> address_kind("0.0.0.0"), address_kind("100.64.0.1"), address_kind("224.0.0.1"), address_kind("192.0.2.1")
    ('non-public', 'non-public', 'non-public', 'non-public')
    """
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if addr.version == 6:
        embedded = addr.ipv4_mapped or addr.sixtofour or (addr.teredo[1] if addr.teredo else None)
        if embedded is None and addr in ipaddress.ip_network("64:ff9b::/96"):
            embedded = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if embedded is not None:
            return address_kind(str(embedded))
    if addr.is_loopback:
        return "loopback"
    if addr.is_link_local:
        return "link-local"
    if any(addr in net for net in _PRIVATE_NETS if net.version == addr.version):
        return "private"
    if not addr.is_global or addr.is_multicast or addr.is_unspecified or addr.is_reserved:
        return "non-public"
    return "public"


def lookup(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, in the resolver's order (``socket.getaddrinfo``: tests map names there).

    >>> lookup("127.0.0.1", 80)
    ['127.0.0.1']
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise BackendError(f"Cannot find the backend host {host!r}: the name does not resolve "
                           f"({getattr(exc, 'strerror', None) or 'no address'}). Check the URL.") from None
    return list(dict.fromkeys(info[4][0] for info in infos))


def url_host_port(url: str) -> tuple[str, int]:
    """The host (IDNA-encoded, lower case, no brackets) and port a URL connects to.

    >>> url_host_port("https://API.example.com/v1"), url_host_port("http://[::1]:8000/v1")
    (('api.example.com', 443), ('::1', 8000))
    """
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        host = host if host.isascii() else host.encode("idna").decode("ascii")
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower(), 80)
    except (UnicodeError, ValueError):
        raise AddressRefused("The backend URL's host or port is not valid; write it like "
                             "https://api.openai.com/v1 or http://localhost:11434/v1.") from None
    return host.lower(), port


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses a visitor-typed backend URL may reach; public ones always."""
    allow_loopback: bool = False   # this machine (127.0.0.0/8, ::1): the local default, off on a public host
    allow_private: bool = False    # every address: loopback, private, link-local... (LINGUA_ALLOW_PRIVATE_BACKEND=1)

    @classmethod
    def from_settings(cls) -> "AddressPolicy":
        s = settings()
        return cls(allow_loopback=s.allow_loopback_backend, allow_private=s.allow_private_backend)

    def allows(self, kind: str) -> bool:
        """May an address of this kind be reached?

        >>> AddressPolicy().allows("public"), AddressPolicy().allows("loopback")
        (True, False)
        >>> AddressPolicy(allow_loopback=True).allows("loopback"), AddressPolicy(allow_loopback=True).allows("private")
        (True, False)
        """
        return kind == "public" or self.allow_private or (kind == "loopback" and self.allow_loopback)

    def resolve(self, host: str, port: int, shown_url: str = "") -> list[str]:
        """The addresses to connect to for ``host`` (in the resolver's order; "localhost" may give ::1 and
        127.0.0.1), every one checked. Raises ``AddressRefused`` when any of them is not allowed."""
        addresses = lookup(host, port)
        if not addresses:
            raise BackendError(f"Cannot find the backend host {host!r}: the name resolves to no address.")
        for ip in addresses:
            kind = address_kind(ip)
            if not self.allows(kind):
                raise AddressRefused(self._refusal(shown_url or host, host, ip, kind))
        return addresses

    def check_url(self, url: str) -> list[str]:
        """Resolve and check the host of ``url`` now (a fast, early refusal); the checked addresses."""
        from .openai_compat import safe_url

        return self.resolve(*url_host_port(url), shown_url=safe_url(url))

    def _refusal(self, shown: str, host: str, ip: str, kind: str) -> str:
        where = f"{ip}" if host == ip.split("%")[0] else f"{ip} ({host} resolves to it)"
        if self.allow_loopback:
            rule = ("Typed backend URLs may lead to this machine (localhost) or to public internet addresses; "
                    "to use a server on your own network, start the app with LINGUA_ALLOW_PRIVATE_BACKEND=1.")
        else:
            rule = ("This public host sends prompts only to public internet addresses: give your server's public "
                    "URL (e.g. https://api.openai.com/v1). The host can allow other addresses with "
                    "LINGUA_ALLOW_PRIVATE_BACKEND=1.")
        return f"Refused: the backend URL {shown} points at {where}, {KINDS[kind]}. {rule}"


def visitor_policy(base_url: str) -> AddressPolicy | None:
    """The policy for a base URL a visitor typed, after checking it; None for the host's own backend (or "").

    Raises ``InvalidRequest`` when the host allows no custom backend URL (``LINGUA_ALLOW_CUSTOM_BACKEND``,
    off by default in public-host mode), ``AddressRefused`` when the URL leads to an address the policy
    does not allow, ``BackendError`` when its host name does not resolve.
    """
    from ..errors import InvalidRequest
    from .openai_compat import check_shape, is_host_backend, safe_url

    if not base_url or is_host_backend(base_url):
        return None
    s = settings()
    if not s.allow_custom_backend:
        raise InvalidRequest(f"This host sends prompts only to its own backend ({safe_url(s.backend_url)}); "
                             "leave the base URL empty. (The host allows other servers with "
                             "LINGUA_ALLOW_CUSTOM_BACKEND=1.)")
    check_shape(base_url)
    policy = AddressPolicy.from_settings()
    policy.check_url(base_url)
    return policy
