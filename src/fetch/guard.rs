//! The address rule for untrusted links (article links inside feeds): they may lead only to
//! public addresses, unless `fetch.allow_private_addresses` says otherwise.
//!
//! A check of the hostname alone is not enough: DNS may answer differently between the check
//! and the connection, and a redirect may lead anywhere. So the rule is applied where the
//! connection is made: the client that fetches untrusted links resolves names through
//! `GuardedResolver`, which hands the connector only the addresses the rule permits, and an
//! address written in a URL (which the connector does not resolve) is checked at every hop by
//! `check_url`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

use crate::config::PrivateAddresses;

/// Why an untrusted link was not followed.
#[derive(Debug, thiserror::Error)]
#[error(
    "refused {host}: it leads to {address}, which is not a public address (loopback, private, link-local, multicast or unspecified); set fetch.allow_private_addresses to reach it"
)]
pub struct Refused {
    pub host: String,
    pub address: IpAddr,
}

/// Whether `address` is one anybody on the internet could reach: not loopback, private
/// (RFC 1918, unique-local), shared (carrier-grade NAT), link-local, multicast, broadcast,
/// unspecified or "this network". IPv4 written as IPv6 is judged as IPv4.
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped().or_else(|| compatible_v4(v6)) {
            Some(v4) => is_public_v4(v4),
            None => {
                let first = v6.segments()[0];
                !(v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || first & 0xfe00 == 0xfc00 // unique local, fc00::/7
                    || first & 0xffc0 == 0xfe80) // link-local, fe80::/10
            }
        },
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let [first, second, ..] = v4.octets();
    !(v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_multicast()
        || v4.is_broadcast()
        || v4.is_unspecified()
        || first == 0 // "this network", 0.0.0.0/8
        || (first == 100 && second & 0xc0 == 64)) // shared, 100.64.0.0/10
}

/// The IPv4 address in a deprecated IPv4-compatible IPv6 address (`::a.b.c.d`), which some
/// systems still route to IPv4.
fn compatible_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let [0, 0, 0, 0, 0, 0, high, low] = v6.segments() else {
        return None;
    };
    (high != 0).then(|| Ipv4Addr::from((u32::from(high) << 16) | u32::from(low)))
}

/// The rule for untrusted links, shared by the resolver and the redirect checks.
#[derive(Debug, Clone)]
pub struct AddressRule {
    private: PrivateAddresses,
}

impl AddressRule {
    pub fn new(private: PrivateAddresses) -> AddressRule {
        AddressRule { private }
    }

    pub fn permits(&self, address: IpAddr) -> bool {
        is_public(address) || self.private.allow(address)
    }

    /// Refuses `url` if its host is an address the rule does not permit. Names are left to
    /// `GuardedResolver`, at connect time.
    pub fn check_url(&self, url: &Url) -> Result<(), Refused> {
        let address = match url.host() {
            Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
            _ => return Ok(()),
        };
        match self.permits(address) {
            true => Ok(()),
            false => Err(Refused {
                host: url.host_str().unwrap_or_default().to_string(),
                address,
            }),
        }
    }
}

/// Resolves names as the system does, then keeps only the addresses `AddressRule` permits; a
/// name with none left fails to resolve, naming the first address it refused.
#[derive(Clone)]
pub struct GuardedResolver {
    rule: Arc<AddressRule>,
}

impl GuardedResolver {
    pub fn new(rule: Arc<AddressRule>) -> GuardedResolver {
        GuardedResolver { rule }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let rule = Arc::clone(&self.rule);
        Box::pin(async move {
            let host = name.as_str().to_string();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let permitted: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|address| rule.permits(address.ip()))
                .collect();
            match (permitted.is_empty(), resolved.first()) {
                (true, Some(refused)) => Err(Box::new(Refused {
                    host,
                    address: refused.ip(),
                })
                    as Box<dyn std::error::Error + Send + Sync>),
                _ => Ok(Box::new(permitted.into_iter()) as Addrs),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Network;

    fn address(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
        ] {
            assert!(!is_public(address(private)), "{private}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "100.128.0.1", "2606:4700::1111"] {
            assert!(is_public(address(public)), "{public}");
        }
    }

    #[test]
    fn urls_with_addresses_are_checked_and_names_left_to_the_resolver() {
        let refused = AddressRule::new(PrivateAddresses::Refused);
        let check = |rule: &AddressRule, url: &str| rule.check_url(&Url::parse(url).unwrap());
        assert!(check(&refused, "http://127.0.0.1:8080/a").is_err());
        assert!(check(&refused, "http://[::1]/a").is_err());
        // WHATWG URLs read these as 127.0.0.1.
        assert!(check(&refused, "http://127.1/a").is_err());
        assert!(check(&refused, "http://0x7f000001/a").is_err());
        assert!(check(&refused, "http://93.184.216.34/a").is_ok());
        assert!(check(&refused, "http://localhost/a").is_ok());
        let some = AddressRule::new(PrivateAddresses::AllowedIn(vec![
            Network::parse("127.0.0.1").unwrap(),
        ]));
        assert!(check(&some, "http://127.0.0.1/a").is_ok());
        assert!(check(&some, "http://127.0.0.2/a").is_err());
        assert!(
            check(
                &AddressRule::new(PrivateAddresses::Allowed),
                "http://10.0.0.1/"
            )
            .is_ok()
        );
    }

    #[tokio::test]
    async fn names_resolve_only_to_permitted_addresses() {
        let name = |host: &str| host.parse::<Name>().unwrap();
        let refused = GuardedResolver::new(Arc::new(AddressRule::new(PrivateAddresses::Refused)));
        let error = match refused.resolve(name("localhost")).await {
            Ok(addresses) => panic!("resolved to {:?}", addresses.collect::<Vec<_>>()),
            Err(error) => error.to_string(),
        };
        assert!(
            error.starts_with("refused localhost: it leads to"),
            "{error}"
        );
        let allowed = GuardedResolver::new(Arc::new(AddressRule::new(
            PrivateAddresses::AllowedIn(vec![Network::parse("127.0.0.1").unwrap()]),
        )));
        let addresses: Vec<SocketAddr> = allowed
            .resolve(name("localhost"))
            .await
            .expect("127.0.0.1 is allowed")
            .collect();
        assert!(!addresses.is_empty());
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        assert!(addresses.iter().all(|address| address.ip() == loopback));
    }
}
