//! `fetch.allow_private_addresses`: which non-public addresses links inside documents may
//! reach. Links in feeds are untrusted, so by default an article link may lead only to public
//! addresses; `true` lifts that (tests, intranets), and a list of networks lifts it for those
//! alone.

use std::net::IpAddr;

use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use super::ConfigError;

/// Which non-public addresses untrusted links may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PrivateAddresses {
    /// None: only public addresses (the default).
    #[default]
    Refused,
    /// Every address.
    Allowed,
    /// Those in these networks.
    AllowedIn(Vec<Network>),
}

impl PrivateAddresses {
    /// Whether a non-public `address` may be reached.
    pub fn allow(&self, address: IpAddr) -> bool {
        match self {
            PrivateAddresses::Refused => false,
            PrivateAddresses::Allowed => true,
            PrivateAddresses::AllowedIn(networks) => {
                networks.iter().any(|network| network.contains(address))
            }
        }
    }
}

/// An address with a prefix length: `10.0.0.0/8`, `fd00::/8`, or one address (`127.0.0.1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn parse(text: &str) -> Result<Network, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| format!("{address:?} is not an IP address"))?;
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(prefix) => prefix
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|prefix| *prefix <= bits)
                .ok_or_else(|| format!("/{prefix} is not a prefix length from 0 to {bits}"))?,
        };
        Ok(Network { address, prefix })
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        // Both as the top bits of 128, so that one mask of the prefix's length fits both.
        let top_bits = |address: IpAddr| match address {
            IpAddr::V4(v4) => (u128::from(v4.to_bits()) << 96, true),
            IpAddr::V6(v6) => (v6.to_bits(), false),
        };
        let (network, network_is_v4) = top_bits(self.address);
        let (address, address_is_v4) = top_bits(address);
        let mask = u128::MAX
            .checked_shl(128 - u32::from(self.prefix))
            .unwrap_or(0);
        network_is_v4 == address_is_v4 && network & mask == address & mask
    }
}

/// `allow_private_addresses` as written: `true`, `false` or a list of networks.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawPrivateAddresses {
    All(bool),
    Networks(Vec<String>),
}

pub(super) fn validate_private_addresses(
    raw: Option<Spanned<RawPrivateAddresses>>,
    error: &impl Fn(Location, String) -> ConfigError,
) -> Result<PrivateAddresses, ConfigError> {
    let Some(spanned) = raw else {
        return Ok(PrivateAddresses::Refused);
    };
    match spanned.value {
        RawPrivateAddresses::All(false) => Ok(PrivateAddresses::Refused),
        RawPrivateAddresses::All(true) => Ok(PrivateAddresses::Allowed),
        RawPrivateAddresses::Networks(networks) => networks
            .iter()
            .map(|network| Network::parse(network))
            .collect::<Result<Vec<_>, _>>()
            .map(PrivateAddresses::AllowedIn)
            .map_err(|why| {
                error(
                    spanned.referenced,
                    format!(
                        "fetch.allow_private_addresses: {why} (use true, false or a list of networks such as [\"10.0.0.0/8\", \"127.0.0.1\"])"
                    ),
                )
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_contain_their_addresses() {
        let network = |text| Network::parse(text).unwrap();
        let address = |text: &str| text.parse::<IpAddr>().unwrap();
        assert!(network("10.0.0.0/8").contains(address("10.200.3.4")));
        assert!(!network("10.0.0.0/8").contains(address("11.0.0.1")));
        assert!(network("127.0.0.1").contains(address("127.0.0.1")));
        assert!(!network("127.0.0.1").contains(address("127.0.0.2")));
        assert!(network("0.0.0.0/0").contains(address("8.8.8.8")));
        assert!(!network("0.0.0.0/0").contains(address("::1")));
        assert!(network("fd00::/8").contains(address("fd12::1")));
        assert!(!network("fd00::/8").contains(address("fe80::1")));
        assert!(Network::parse("10.0.0.0/33").is_err());
        assert!(Network::parse("intranet").is_err());
    }
}
