//! When to poll what: cron schedules and the loop that runs a job on one.
//!
//! Schedules are standard 5-field crontab expressions (minute granularity) or 6-field ones whose
//! first field is seconds, evaluated in UTC. We use croner rather than `cron` because `cron`
//! rejects 5-field expressions and numbers weekdays Quartz-style (1 = Sunday). This module
//! decides times only: it never fetches, parses or stores.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use tokio::sync::watch;

/// A parsed cron expression; cheap to clone.
#[derive(Clone)]
pub struct Schedule {
    pattern: Arc<str>,
    /// Shared: a parsed expression holds kilobytes, and every source that does not set its own
    /// schedule clones the top-level one, as does each of its pollers.
    cron: Arc<Cron>,
}

impl Schedule {
    /// Parses a 5-field (minutes) or 6-field (seconds first) cron expression.
    pub fn parse(pattern: &str) -> Result<Schedule, String> {
        let fields = pattern.split_whitespace().count();
        if !(5..=6).contains(&fields) && !pattern.trim_start().starts_with('@') {
            return Err(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, found {fields}"
            ));
        }
        check_field_ranges(pattern)?;
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build()
            .parse(pattern)
            .map_err(|error| error.to_string())?;
        Ok(Schedule {
            pattern: pattern.into(),
            cron: Arc::new(cron),
        })
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The first occurrence strictly after `time`, or `None` if the expression never fires again
    /// (e.g. the 30th of February).
    pub fn next_after(&self, time: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&time, false).ok()
    }

    fn next_at_or_after(&self, time: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&time, true).ok()
    }
}

/// A source's first failure is retried after this, or after its period if that is shorter: a
/// network blip would otherwise hide an hourly source for two hours, a daily one for two days.
pub const FIRST_RETRY: Duration = Duration::from_secs(15 * 60);

/// Failing sources back off up to this, and Retry-After is capped here: polling slows down but
/// never stops for good.
pub const MAX_BACKOFF: Duration = Duration::from_secs(24 * 60 * 60);

/// How a poll ended, as far as scheduling cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollResult {
    /// 200 or 304.
    Success,
    /// Anything else; `retry_after` when a 429 or 503 said how long to wait.
    Failure { retry_after: Option<Duration> },
    /// 410 Gone: not polled again until its configuration changes.
    Gone,
}

/// The politeness rules applied on top of each source's schedule.
#[derive(Debug, Clone, Copy)]
pub struct Politeness {
    /// Never poll one source more often than this.
    pub min_interval: Duration,
    /// Scheduled polls are delayed by up to this, at random.
    pub jitter: Duration,
}

/// When to poll a source next, given how the poll that ended at `now` went. `failures` counts
/// consecutive failures, this one included; `random` is uniform in [0, 1) and spreads polls.
/// `None` means never (gone, or a schedule that does not fire again).
pub fn next_poll(
    schedule: &Schedule,
    rules: Politeness,
    result: PollResult,
    failures: u32,
    now: DateTime<Utc>,
    random: f64,
) -> Option<DateTime<Utc>> {
    let scheduled = if rules.min_interval.is_zero() {
        schedule.next_after(now)?
    } else {
        schedule.next_at_or_after(now + rules.min_interval)?
    };
    let fraction_of = |span: Duration| span.mul_f64(random.clamp(0.0, 1.0));
    let next = match result {
        PollResult::Gone => return None,
        PollResult::Success => scheduled + fraction_of(rules.jitter),
        PollResult::Failure {
            retry_after: Some(wait),
        } => scheduled.max(now + wait.min(MAX_BACKOFF)),
        PollResult::Failure { retry_after: None } => {
            let period = schedule
                .next_after(scheduled)
                .and_then(|after| (after - scheduled).to_std().ok())
                .unwrap_or(MAX_BACKOFF);
            if failures <= 1 {
                // One failure is most often a blip: retry soon, up to a tenth sooner at random.
                let retry = period.min(FIRST_RETRY);
                (now + retry - fraction_of(retry / 10)).max(now + rules.min_interval)
            } else {
                // Double the period per further failure, plus up to 10% at random.
                let doublings = failures - 1;
                let backoff = period
                    .saturating_mul(1u32.checked_shl(doublings.min(31)).unwrap_or(u32::MAX))
                    .min(MAX_BACKOFF);
                scheduled.max(now + backoff + fraction_of(backoff / 10))
            }
        }
    };
    Some(next)
}

/// Names and ranges of the fields of a 6-field expression; a 5-field one has no seconds.
const FIELDS: [(&str, u32, u32); 6] = [
    ("second", 0, 59),
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day-of-month", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 0, 7),
];

/// Checks every plain number, range bound and step against its field's range. croner silently
/// accepts steps larger than the field (`*/61`), which never do what the user meant.
fn check_field_ranges(pattern: &str) -> Result<(), String> {
    let values: Vec<&str> = pattern.split_whitespace().collect();
    let fields = &FIELDS[FIELDS.len() - values.len().min(FIELDS.len())..];
    for (value, &(name, min, max)) in values.iter().zip(fields) {
        let out_of_range = || format!("{name} must be {min}-{max}");
        for item in value.split(',') {
            let (range, step) = item.split_once('/').unwrap_or((item, ""));
            if let Ok(step) = step.parse::<u32>()
                && !(1..=max).contains(&step)
            {
                return Err(format!("{name} step must be 1-{max}"));
            }
            for bound in range
                .split('-')
                .filter_map(|bound| bound.parse::<u32>().ok())
            {
                if !(min..=max).contains(&bound) {
                    return Err(out_of_range());
                }
            }
        }
    }
    Ok(())
}

/// Two schedules are the same when they were written the same.
impl PartialEq for Schedule {
    fn eq(&self, other: &Schedule) -> bool {
        self.pattern == other.pattern
    }
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({:?})", self.pattern)
    }
}

/// Runs `poll` at `first` (right away when `None`), then again at each time it asks for, until
/// it returns `None` (gone, or a schedule that never fires again) or `stop` turns true. A poll
/// under way is never cut short here: it finishes its write before the loop looks at `stop`.
pub async fn keep_polling<Poll, Polled>(
    first: Option<DateTime<Utc>>,
    mut stop: watch::Receiver<bool>,
    mut poll: Poll,
) where
    Poll: FnMut() -> Polled,
    Polled: Future<Output = Option<DateTime<Utc>>>,
{
    let mut next = first.unwrap_or_else(Utc::now);
    loop {
        tokio::select! {
            _ = tokio::time::sleep((next - Utc::now()).to_std().unwrap_or_default()) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        match poll().await {
            Some(then) => next = then,
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn five_fields_are_minutes_and_six_fields_add_seconds() {
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 10, 7, 30).unwrap();
        let quarter = Schedule::parse("*/15 * * * *").unwrap();
        assert_eq!(
            quarter.next_after(start),
            Some(Utc.with_ymd_and_hms(2026, 1, 1, 10, 15, 0).unwrap())
        );
        let every_two_seconds = Schedule::parse("*/2 * * * * *").unwrap();
        assert_eq!(
            every_two_seconds.next_after(start),
            Some(Utc.with_ymd_and_hms(2026, 1, 1, 10, 7, 32).unwrap())
        );
    }

    #[test]
    fn weekdays_are_numbered_like_crontab() {
        // 2026-01-01 is a Thursday; crontab's 1 is Monday.
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mondays = Schedule::parse("0 9 * * 1").unwrap();
        assert_eq!(
            mondays.next_after(start),
            Some(Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap())
        );
    }

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, h, m, s).unwrap()
    }

    const NO_RULES: Politeness = Politeness {
        min_interval: Duration::ZERO,
        jitter: Duration::ZERO,
    };

    #[test]
    fn successes_follow_the_schedule_with_jitter_and_min_interval() {
        let quarter = Schedule::parse("*/15 * * * *").unwrap();
        let now = at(10, 7, 30);
        let next = |rules, random| next_poll(&quarter, rules, PollResult::Success, 0, now, random);
        assert_eq!(next(NO_RULES, 0.5), Some(at(10, 15, 0)));
        let jittery = Politeness {
            jitter: Duration::from_secs(60),
            ..NO_RULES
        };
        assert_eq!(next(jittery, 0.5), Some(at(10, 15, 30)));
        // Every second, but at most every 5 minutes.
        let eager = Schedule::parse("* * * * * *").unwrap();
        let polite = Politeness {
            min_interval: Duration::from_secs(300),
            ..NO_RULES
        };
        assert_eq!(
            next_poll(&eager, polite, PollResult::Success, 0, now, 0.0),
            Some(at(10, 12, 30))
        );
    }

    #[test]
    fn a_first_failure_is_retried_soon_then_failures_back_off_up_to_a_day() {
        let now = at(10, 0, 0);
        let after = |pattern: &str, failures, random| {
            next_poll(
                &Schedule::parse(pattern).unwrap(),
                NO_RULES,
                PollResult::Failure { retry_after: None },
                failures,
                now,
                random,
            )
            .map(|next| (next - now).num_seconds() as f64 / 60.0)
        };
        let hourly = |failures| after("0 * * * *", failures, 0.0);
        assert_eq!(hourly(1), Some(15.0));
        assert_eq!(hourly(2), Some(120.0));
        assert_eq!(hourly(3), Some(240.0));
        assert_eq!(hourly(6), Some(24.0 * 60.0));
        assert_eq!(hourly(400), Some(24.0 * 60.0));
        // A daily source too is retried within a quarter of an hour, a five-minutely one at its
        // next slot.
        assert_eq!(after("0 6 * * *", 1, 0.0), Some(15.0));
        assert_eq!(after("0 6 * * *", 2, 0.0), Some(24.0 * 60.0));
        assert_eq!(after("*/5 * * * *", 1, 0.0), Some(5.0));
        assert_eq!(after("*/5 * * * *", 2, 0.0), Some(10.0));
        // The jitter: up to a tenth sooner for the first retry, later for the others.
        assert_eq!(after("0 * * * *", 1, 0.5), Some(14.25));
        assert_eq!(after("0 * * * *", 2, 0.5), Some(126.0));
        // min_interval holds for retries too.
        let polite = Politeness {
            min_interval: Duration::from_secs(30 * 60),
            ..NO_RULES
        };
        let retry = next_poll(
            &Schedule::parse("0 * * * *").unwrap(),
            polite,
            PollResult::Failure { retry_after: None },
            1,
            now,
            0.0,
        );
        assert_eq!(retry, Some(at(10, 30, 0)));
    }

    #[test]
    fn retry_after_is_honoured_capped_and_gone_stops() {
        let minutely = Schedule::parse("* * * * *").unwrap();
        let now = at(10, 0, 0);
        let wait = |seconds| PollResult::Failure {
            retry_after: Some(Duration::from_secs(seconds)),
        };
        assert_eq!(
            next_poll(&minutely, NO_RULES, wait(3600), 1, now, 0.9),
            Some(at(11, 0, 0))
        );
        assert_eq!(
            next_poll(&minutely, NO_RULES, wait(5), 1, now, 0.9),
            Some(at(10, 1, 0))
        );
        assert_eq!(
            next_poll(&minutely, NO_RULES, wait(10 * 365 * 86400), 1, now, 0.0),
            Some(now + MAX_BACKOFF)
        );
        assert_eq!(
            next_poll(&minutely, NO_RULES, PollResult::Gone, 0, now, 0.0),
            None
        );
    }

    #[test]
    fn invalid_expressions_say_why() {
        let cases = [
            ("*/61 * * * *", "minute step must be 1-59"),
            ("0 24 * * *", "hour must be 0-23"),
            ("0 0 * 1-13 *", "month must be 1-12"),
            ("61 * * * * *", "second must be 0-59"),
            (
                "* * *",
                "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, found 3",
            ),
            (
                "0 0 0 1 1 * 2030",
                "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, found 7",
            ),
        ];
        for (pattern, why) in cases {
            assert_eq!(Schedule::parse(pattern).unwrap_err(), why, "{pattern}");
        }
        assert!(Schedule::parse("0 0 * JAN-MAR MON-FRI").is_ok());
    }
}
