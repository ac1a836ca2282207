//! Where a request came from: the client's address, worked out once per
//! request from the TCP peer and the trusted proxies' reports. The sign-in
//! throttle, the audit log and the Sessions list all use it.

use axum::http::{header, HeaderMap};
use ipnet::{IpNet, Ipv6Net};
use std::net::{IpAddr, SocketAddr};

/// Where a request came from, for the sign-in throttle, the Sessions list and
/// the audit trail. Put into every request's extensions by [`authenticate`].
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    /// [`ip_key`] of [`client_ip`]: an IPv4 address, or an IPv6 client's /64
    /// network (`2001:db8:1:2::/64`); empty when the peer is unknown.
    pub ip: String,
    pub user_agent: String,
}

pub fn client_info(headers: &HeaderMap, peer: Option<SocketAddr>, trusted_proxies: &[IpNet]) -> ClientInfo {
    let user_agent =
        headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").chars().take(300).collect();
    let ip = peer.map(|p| ip_key(client_ip(headers, p.ip(), trusted_proxies))).unwrap_or_default();
    ClientInfo { ip, user_agent }
}

/// The client's address. The TCP peer, unless the peer is one of
/// `trusted_proxies`: then the proxies' own report, read right to left (each
/// proxy appends the address it received the request from), and the first hop
/// that is not a trusted proxy is the client. Whatever a client writes into the
/// header itself lies further left and is never reached. `X-Forwarded-For` is
/// read when present, otherwise the `for=` of RFC 7239 `Forwarded`. An
/// unreadable hop (`unknown`, an obfuscated name) stops the walk at the last
/// trusted proxy.
pub fn client_ip(headers: &HeaderMap, peer: IpAddr, trusted_proxies: &[IpNet]) -> IpAddr {
    let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|net| net.contains(ip));
    let mut client = peer.to_canonical();
    if !trusted(&client) {
        return client;
    }
    for hop in forwarded_hops(headers).into_iter().rev() {
        let Some(hop) = hop else { return client };
        client = hop.to_canonical();
        if !trusted(&client) {
            return client;
        }
    }
    client
}

/// The form a client address is counted and recorded in: an IPv4 address as
/// it is; an IPv6 address as its /64 network, since one subscriber usually
/// holds a whole /64 and could otherwise take a fresh address per attempt.
pub fn ip_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => Ipv6Net::new(v6, 64).map(|n| n.trunc().to_string()).unwrap_or_else(|_| v6.to_string()),
    }
}

/// The hops the proxies reported, nearest the client first (`None`: unreadable).
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name| headers.get_all(name).iter().map(|v| v.to_str().unwrap_or("")).collect::<Vec<_>>();
    let xff = values("x-forwarded-for");
    if !xff.is_empty() {
        return xff.iter().flat_map(|v| v.split(',')).map(parse_node).collect();
    }
    values("forwarded")
        .iter()
        .flat_map(|v| split_unquoted(v, ','))
        .map(|element| {
            split_unquoted(element, ';')
                .into_iter()
                .filter_map(|pair| pair.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                .and_then(|(_, node)| parse_node(node))
        })
        .collect()
}

/// Split at `sep` outside double quotes (RFC 7239 values may be quoted strings).
fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let (mut parts, mut start, mut quoted, mut escaped) = (Vec::new(), 0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// One hop: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]:4711`, quoted or not.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    node.parse::<IpAddr>()
        .ok()
        .or_else(|| node.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| node.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let lb: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer_lb: IpAddr = "10.0.0.2".parse().unwrap();
        let stranger: IpAddr = "198.51.100.9".parse().unwrap();
        let spoofed = headers(&[("x-forwarded-for", "203.0.113.5")]);
        // Not trusted (or nothing trusted): the header is ignored.
        assert_eq!(client_ip(&spoofed, stranger, &lb), stranger);
        assert_eq!(client_ip(&spoofed, peer_lb, &[]), peer_lb);
        // Trusted: the right-most hop that is not a trusted proxy.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.5, 10.0.0.7")]);
        assert_eq!(client_ip(&h, peer_lb, &lb).to_string(), "203.0.113.5");
        // Several header lines are one list; ports and brackets are accepted.
        let h = headers(&[("x-forwarded-for", "1.1.1.1"), ("x-forwarded-for", "[2001:db8::1]:4711")]);
        assert_eq!(client_ip(&h, peer_lb, &lb).to_string(), "2001:db8::1");
        // RFC 7239, quoted IPv6 with a port, other parameters and quoted commas.
        let h = headers(&[("forwarded", r#"for=1.1.1.1, for="[2001:db8:cafe::17]:4711";by="a,b";proto=https"#)]);
        assert_eq!(client_ip(&h, peer_lb, &lb).to_string(), "2001:db8:cafe::17");
        let h = headers(&[("forwarded", "For=192.0.2.60;proto=http")]);
        assert_eq!(client_ip(&h, peer_lb, &lb).to_string(), "192.0.2.60");
        // An unreadable hop stops at the last trusted proxy; no header: the peer.
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(client_ip(&h, peer_lb, &lb), peer_lb);
        assert_eq!(client_ip(&HeaderMap::new(), peer_lb, &lb), peer_lb);
        // Every hop trusted: the left-most.
        let h = headers(&[("x-forwarded-for", "10.1.1.1, 10.2.2.2")]);
        assert_eq!(client_ip(&h, peer_lb, &lb).to_string(), "10.1.1.1");
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        assert_eq!(ip_key("2001:db8:1:2:aaaa::1".parse().unwrap()), "2001:db8:1:2::/64");
        assert_eq!(ip_key("2001:db8:1:2:bbbb::9".parse().unwrap()), "2001:db8:1:2::/64");
        assert_eq!(ip_key("::ffff:192.0.2.1".parse().unwrap()), "192.0.2.1");
        assert_eq!(ip_key("192.0.2.1".parse().unwrap()), "192.0.2.1");
    }
}
