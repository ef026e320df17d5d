//! Who the client is: the connecting address, or, behind a trusted reverse proxy, the address
//! the proxies recorded in `X-Forwarded-For`.

use std::net::IpAddr;

use ipnet::IpNet;
use poem::http::HeaderMap;

/// One entry of `limits.trusted_proxies`: an address or a CIDR range.
#[derive(Debug, Clone, Copy)]
pub struct ProxyNet(IpNet);

impl ProxyNet {
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        raw.parse::<IpNet>().ok().or_else(|| raw.parse::<IpAddr>().ok().map(IpNet::from)).map(Self)
    }

    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.0.contains(&canonical(*ip))
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) are their IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client's address. The header is read only when the connecting peer is a trusted proxy,
/// so without `trusted_proxies` it cannot be spoofed. Walking the header from the right, the
/// first address that is not a trusted proxy is the client: entries left of it were written by
/// the client itself and prove nothing.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[ProxyNet]) -> Option<IpAddr> {
    let peer = canonical(peer?);
    if !trusted.iter().any(|net| net.contains(&peer)) {
        return Some(peer);
    }
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = peer;
    for value in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(value) = value.to_str() else { return Some(client) };
        for entry in value.rsplit(',') {
            let Some(ip) = parse_forwarded_entry(entry) else { return Some(client) };
            client = canonical(ip);
            if !is_trusted(&client) {
                return Some(client);
            }
        }
    }
    Some(client)
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:5678`.
fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The client as seen from a peer (`ip:port`) that sent these `X-Forwarded-For` headers.
    fn seen(peer: &str, forwarded: &[&str], trusted: &[ProxyNet]) -> Option<IpAddr> {
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        client_ip(Some(peer.parse::<std::net::SocketAddr>().unwrap().ip()), &headers, trusted)
    }

    fn nets(list: &[&str]) -> Vec<ProxyNet> {
        list.iter().map(|s| ProxyNet::parse(s).unwrap()).collect()
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        assert_eq!(seen("203.0.113.7:4000", &["198.51.100.1"], &[]), ip("203.0.113.7"));
    }

    #[test]
    fn an_untrusted_peer_cannot_spoof_through_the_header() {
        assert_eq!(seen("203.0.113.7:4000", &["198.51.100.1"], &nets(&["10.0.0.0/8"])), ip("203.0.113.7"));
    }

    #[test]
    fn behind_a_trusted_proxy_the_rightmost_untrusted_entry_is_the_client() {
        // The client wrote "1.1.1.1" itself; the proxy appended the address it saw.
        let private = nets(&["10.0.0.0/8"]);
        assert_eq!(seen("10.0.0.2:4000", &["1.1.1.1, 198.51.100.9"], &private), ip("198.51.100.9"));
        assert_eq!(seen("10.0.0.2:4000", &["1.1.1.1, 198.51.100.9, 10.0.0.5"], &private), ip("198.51.100.9"));
        assert_eq!(seen("10.0.0.2:4000", &["1.1.1.1", "198.51.100.9"], &private), ip("198.51.100.9"));
    }

    #[test]
    fn a_trusted_proxy_without_a_usable_header_is_the_client() {
        assert_eq!(seen("10.0.0.2:1", &[], &nets(&["10.0.0.2"])), ip("10.0.0.2"));
        assert_eq!(seen("10.0.0.2:1", &["garbage"], &nets(&["10.0.0.2"])), ip("10.0.0.2"));
    }

    #[test]
    fn ports_brackets_and_mapped_addresses_are_understood() {
        assert_eq!(seen("[::ffff:10.0.0.2]:1", &["[2001:db8::1]:443"], &nets(&["10.0.0.0/8"])), ip("2001:db8::1"));
        assert_eq!(parse_forwarded_entry(" 198.51.100.9:80 "), ip("198.51.100.9"));
        assert!(ProxyNet::parse("not an ip").is_none());
        assert!(ProxyNet::parse("10.0.0.0/33").is_none());
    }
}
