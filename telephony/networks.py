"""IP networks from settings, and whether a host lies in them (SIP trust, RTP sources)."""

from __future__ import annotations

import ipaddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK: tuple[Network, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)


def parse_networks(items: tuple[str, ...]) -> tuple[Network, ...]:
    """CIDR networks or single addresses; ValueError names a bad entry."""
    networks: list[Network] = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or CIDR network") from None
    return tuple(networks)


def in_networks(host: str, networks: tuple[Network, ...]) -> bool:
    """Whether `host` (an IP literal, IPv6 possibly bracketed) lies in one of `networks`."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return any(address in network for network in networks)


def is_loopback(host: str) -> bool:
    return host == "localhost" or in_networks(host, LOOPBACK)
