//! The address a request came from, for sign-in throttling.
//!
//! Behind a reverse proxy every connection comes from the proxy, so one
//! person's failed sign-ins would throttle everyone. `X-Forwarded-For`
//! says who the proxy served, but anyone can send it: it is read only when
//! the connection comes from a proxy the operator named with
//! `--trusted-proxy`, and then from the right, skipping further trusted
//! proxies, so an address the client wrote itself at the left is never
//! believed over the one the proxy saw.

use std::net::IpAddr;

/// The client's address: the peer, unless the peer is a trusted proxy,
/// then the right-most address in `forwarded_for` (all `X-Forwarded-For`
/// values, in order) that is not a trusted proxy. A malformed entry stops
/// the walk at the last address that was sound.
pub fn client_ip<'a>(
    peer: Option<IpAddr>,
    forwarded_for: impl IntoIterator<Item = &'a str>,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let hops: Vec<&str> = forwarded_for
        .into_iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(address) => {
                client = address;
                if !trusted.contains(&address) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    Some(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse()
            .unwrap_or_else(|_| panic!("{text} is an address"))
    }

    const PROXY: &str = "10.0.0.2";

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let got = client_ip(Some(ip("203.0.113.9")), ["198.51.100.1"], &[ip(PROXY)]);
        assert_eq!(got, Some(ip("203.0.113.9")));
    }

    #[test]
    fn no_trusted_proxies_means_headers_are_ignored() {
        let got = client_ip(Some(ip(PROXY)), ["198.51.100.1"], &[]);
        assert_eq!(got, Some(ip(PROXY)));
    }

    #[test]
    fn a_trusted_proxy_is_believed_about_the_address_it_saw() {
        let got = client_ip(Some(ip(PROXY)), ["198.51.100.1"], &[ip(PROXY)]);
        assert_eq!(got, Some(ip("198.51.100.1")));
    }

    #[test]
    fn an_address_the_client_wrote_at_the_left_is_not_believed() {
        // The client sent `X-Forwarded-For: 192.0.2.66`; the proxy appended
        // the address it saw.
        let got = client_ip(Some(ip(PROXY)), ["192.0.2.66, 198.51.100.1"], &[ip(PROXY)]);
        assert_eq!(got, Some(ip("198.51.100.1")));
    }

    #[test]
    fn chains_of_trusted_proxies_are_walked_from_the_right() {
        let trusted = [ip(PROXY), ip("10.0.0.3")];
        let got = client_ip(
            Some(ip(PROXY)),
            ["192.0.2.66", "198.51.100.1, 10.0.0.3"],
            &trusted,
        );
        assert_eq!(got, Some(ip("198.51.100.1")));
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_sound_hop() {
        let got = client_ip(Some(ip(PROXY)), ["198.51.100.1, not-an-ip"], &[ip(PROXY)]);
        assert_eq!(got, Some(ip(PROXY)));
        let got = client_ip(Some(ip(PROXY)), [""], &[ip(PROXY)]);
        assert_eq!(got, Some(ip(PROXY)));
    }

    #[test]
    fn a_missing_header_leaves_the_proxy_as_the_client() {
        let got = client_ip(Some(ip(PROXY)), [], &[ip(PROXY)]);
        assert_eq!(got, Some(ip(PROXY)));
    }

    #[test]
    fn ipv6_hops_parse() {
        let got = client_ip(Some(ip("::1")), ["2001:db8::7"], &[ip("::1")]);
        assert_eq!(got, Some(ip("2001:db8::7")));
    }
}
