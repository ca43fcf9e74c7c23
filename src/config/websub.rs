//! The `websub` section: tributary as the hub of its own feeds, and as a subscriber to the hubs
//! its sources name. Whether we are a hub (`websub.hub`) is what the feeds say about
//! themselves, so it is `FeedSettings::hub`.

use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use super::env::Expanded;
use super::{ConfigError, count_setting, duration_setting};

/// How push works, both ways.
#[derive(Debug, Clone, PartialEq)]
pub struct WebSubSettings {
    /// Whether sources whose feeds name a hub are subscribed to.
    pub subscribe: bool,
    /// Subscriptions the hub keeps at most; requests past it are refused.
    pub max_subscriptions: usize,
    /// The lease a subscription gets when it asks for none, and the bounds of what it may ask.
    pub lease: Duration,
    pub min_lease: Duration,
    pub max_lease: Duration,
    /// While a source's hub pushes, the source is still polled this often, in case it stops.
    pub safety_poll: Duration,
}

impl Default for WebSubSettings {
    fn default() -> WebSubSettings {
        const DAY: u64 = 24 * 60 * 60;
        WebSubSettings {
            subscribe: true,
            max_subscriptions: 1000,
            lease: Duration::from_secs(10 * DAY),
            min_lease: Duration::from_secs(60 * 60),
            max_lease: Duration::from_secs(30 * DAY),
            safety_poll: Duration::from_secs(6 * 60 * 60),
        }
    }
}

impl WebSubSettings {
    /// The lease granted for a request of `asked` (none: the default), within the bounds.
    pub fn lease_for(&self, asked: Option<Duration>) -> Duration {
        asked
            .unwrap_or(self.lease)
            .clamp(self.min_lease, self.max_lease)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebSub {
    /// `FeedSettings::hub`: what the feeds say about themselves.
    pub(super) hub: Option<bool>,
    subscribe: Option<bool>,
    max_subscriptions: Option<Spanned<usize>>,
    lease: Option<Spanned<Expanded>>,
    min_lease: Option<Spanned<Expanded>>,
    max_lease: Option<Spanned<Expanded>>,
    safety_poll: Option<Spanned<Expanded>>,
}

pub(super) fn validate_websub(
    raw: RawWebSub,
    error: &impl Fn(Location, String) -> ConfigError,
) -> Result<WebSubSettings, ConfigError> {
    let defaults = WebSubSettings::default();
    // The defaults agree with each other: a disagreement is in one of these, as written.
    let lease_location = [&raw.lease, &raw.min_lease, &raw.max_lease]
        .into_iter()
        .find_map(|value| value.as_ref().map(|spanned| spanned.referenced));
    let duration = |value, key, default| duration_setting(value, key, default, false, error);
    let settings = WebSubSettings {
        subscribe: raw.subscribe.unwrap_or(defaults.subscribe),
        max_subscriptions: count_setting(
            raw.max_subscriptions,
            "websub.max_subscriptions",
            defaults.max_subscriptions,
            error,
        )?,
        lease: duration(raw.lease, "websub.lease", defaults.lease)?,
        min_lease: duration(raw.min_lease, "websub.min_lease", defaults.min_lease)?,
        max_lease: duration(raw.max_lease, "websub.max_lease", defaults.max_lease)?,
        safety_poll: duration(raw.safety_poll, "websub.safety_poll", defaults.safety_poll)?,
    };
    if !(settings.min_lease..=settings.max_lease).contains(&settings.lease) {
        return Err(error(
            lease_location.expect("the default lease is within the default bounds"),
            format!(
                "websub.lease: {} is outside websub.min_lease ({}) to websub.max_lease ({})",
                humantime::format_duration(settings.lease),
                humantime::format_duration(settings.min_lease),
                humantime::format_duration(settings.max_lease)
            ),
        ));
    }
    Ok(settings)
}
