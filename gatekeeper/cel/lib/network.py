"""Kubernetes' IP and CIDR libraries: ``ip()``, ``cidr()``, ``isIP``, ``isCIDR`` and their methods.

Parsing is as strict as Go's ``netip`` the way Kubernetes uses it: no leading zeros in IPv4
octets, no zones, no IPv4-mapped IPv6 addresses. The predicates follow Go's ``net/netip``
definitions (``isGlobalUnicast`` is "not unspecified, loopback, multicast, link-local or
broadcast", not Python's "publicly routable").
"""

from __future__ import annotations

import ipaddress
from typing import Any

from gatekeeper.cel import types
from gatekeeper.cel.lib import Library, glob, member
from gatekeeper.cel.rewrite import STRING

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_ip(text: str) -> Address:
    """An address as Kubernetes accepts it; ValueError otherwise."""
    if not isinstance(text, str) or "%" in text or "/" in text:
        raise ValueError(f"IP Address {text!r} parse error")
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"IP Address {text!r} parse error") from None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        raise ValueError(f"IPv4-mapped IPv6 address {text!r} is not allowed")
    return addr


def parse_cidr(text: str) -> tuple[Address, int]:
    """(address, prefix length) of a CIDR as Kubernetes accepts it; ValueError otherwise."""
    if not isinstance(text, str) or text.count("/") != 1:
        raise ValueError(f"network address {text!r} parse error")
    addr_text, _, bits = text.partition("/")
    addr = parse_ip(addr_text)
    if not bits.isdigit() or (len(bits) > 1 and bits[0] == "0"):
        raise ValueError(f"network address {text!r} parse error")
    length = int(bits)
    if length > addr.max_prefixlen:
        raise ValueError(f"network address {text!r} parse error")
    return addr, length


def _ip(value: Any) -> Address:
    return ipaddress.ip_address(value.value)


def _cidr(value: Any) -> tuple[Address, int]:
    addr, _, bits = value.value.partition("/")
    return ipaddress.ip_address(addr), int(bits)


def _network(value: Any) -> Network:
    addr, length = _cidr(value)
    return ipaddress.ip_network(f"{addr}/{length}", strict=False)


def _make_ip(addr: Address) -> Any:
    return types.make("IP", str(addr))


def _make_cidr(addr: Address, length: int) -> Any:
    return types.make("CIDR", f"{addr}/{length}")


def _valid(parser: Any, text: str) -> bool:
    try:
        parser(text)
    except ValueError:
        return False
    return True


def _is_canonical(text: str) -> bool:
    return str(parse_ip(text)) == text


def _is_link_local_multicast(addr: Address) -> bool:
    if isinstance(addr, ipaddress.IPv4Address):
        return addr in ipaddress.ip_network("224.0.0.0/24")
    return addr.is_multicast and (addr.packed[1] & 0x0F) == 0x02


def _is_global_unicast(addr: Address) -> bool:
    if addr.is_unspecified or addr.is_loopback or addr.is_multicast or addr.is_link_local:
        return False
    return not (isinstance(addr, ipaddress.IPv4Address) and addr == ipaddress.IPv4Address("255.255.255.255"))


def _contains_ip(cidr: Any, other: Any) -> bool:
    addr = parse_ip(other) if isinstance(other, str) else _ip(other)
    net = _network(cidr)
    return addr.version == net.version and addr in net


def _contains_cidr(cidr: Any, other: Any) -> bool:
    addr, length = parse_cidr(other) if isinstance(other, str) else _cidr(other)
    net = _network(cidr)
    if addr.version != net.version or length < net.prefixlen:
        return False
    return addr in net


def _masked(cidr: Any) -> Any:
    net = _network(cidr)
    return _make_cidr(net.network_address, net.prefixlen)


LIBRARY = Library("kubernetes.net", (
    glob("ip", ("ip_string", ("string",), "IP", lambda s: _make_ip(parse_ip(s)))),
    glob("isIP", ("isIP_string", ("string",), "bool", lambda s: _valid(parse_ip, s))),
    glob("ip.isCanonical", ("ip_isCanonical", ("string",), "bool", _is_canonical)),
    member("family", ("ip_family", ("IP",), "int", lambda a: _ip(a).version)),
    member("isUnspecified", ("ip_isUnspecified", ("IP",), "bool", lambda a: _ip(a).is_unspecified)),
    member("isLoopback", ("ip_isLoopback", ("IP",), "bool", lambda a: _ip(a).is_loopback)),
    member("isLinkLocalMulticast", ("ip_isLinkLocalMulticast", ("IP",), "bool",
                                    lambda a: _is_link_local_multicast(_ip(a)))),
    member("isLinkLocalUnicast", ("ip_isLinkLocalUnicast", ("IP",), "bool",
                                  lambda a: _ip(a).is_link_local and not _ip(a).is_multicast)),
    member("isGlobalUnicast", ("ip_isGlobalUnicast", ("IP",), "bool", lambda a: _is_global_unicast(_ip(a)))),
    glob("cidr", ("cidr_string", ("string",), "CIDR", lambda s: _make_cidr(*parse_cidr(s)))),
    glob("isCIDR", ("isCIDR_string", ("string",), "bool", lambda s: _valid(parse_cidr, s))),
    member("containsIP", ("cidr_containsIP_string", ("CIDR", "string"), "bool", _contains_ip),
           ("cidr_containsIP_ip", ("CIDR", "IP"), "bool", _contains_ip)),
    member("containsCIDR", ("cidr_containsCIDR_string", ("CIDR", "string"), "bool", _contains_cidr),
           ("cidr_containsCIDR", ("CIDR", "CIDR"), "bool", _contains_cidr)),
    member("ip", ("cidr_ip", ("CIDR",), "IP", lambda c: _make_ip(_cidr(c)[0]))),
    member("masked", ("cidr_masked", ("CIDR",), "CIDR", _masked)),
    member("prefixLength", ("cidr_prefixLength", ("CIDR",), "int", lambda c: _cidr(c)[1])),
    # string(ip) and string(cidr): the engine calls this name for them (gatekeeper.cel.rewrite)
    glob(STRING, ("string_ip", ("IP",), "string", lambda a: str(_ip(a))),
         ("string_cidr", ("CIDR",), "string", lambda c: "{}/{}".format(*_cidr(c)))),
))
