//! When to poll what: cron schedules and the loop that runs a job on one.
//!
//! Schedules are standard 5-field crontab expressions (minute granularity) or 6-field ones whose
//! first field is seconds, evaluated in UTC. We use croner rather than `cron` because `cron`
//! rejects 5-field expressions and numbers weekdays Quartz-style (1 = Sunday). This module
//! decides times only: it never fetches, parses or stores.

use std::fmt;
use std::future::Future;

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// A parsed cron expression.
#[derive(Clone)]
pub struct Schedule {
    pattern: String,
    cron: Cron,
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
            pattern: pattern.to_string(),
            cron,
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

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({:?})", self.pattern)
    }
}

/// Runs `job` once right away, then at every occurrence of `schedule`, until the surrounding task
/// is aborted. A job that overruns its next occurrence simply runs again at the one after it.
pub async fn run_on_schedule<Job, Run>(name: &str, schedule: &Schedule, mut job: Job)
where
    Job: FnMut() -> Run,
    Run: Future<Output = ()>,
{
    loop {
        job().await;
        let now = Utc::now();
        let Some(next) = schedule.next_after(now) else {
            tracing::warn!(
                source = name,
                schedule = schedule.pattern(),
                "the schedule never fires again; polling stops"
            );
            return;
        };
        tracing::debug!(source = name, next = %next.to_rfc3339(), "next poll");
        tokio::time::sleep((next - now).to_std().unwrap_or_default()).await;
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
