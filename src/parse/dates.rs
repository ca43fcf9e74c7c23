//! Dates as publishers really write them.
//!
//! RFC 822 dates come with named zones (PST, EST, GMT, UT, Z), without seconds, with a wrong or
//! missing weekday and with two-digit years; ISO 8601 dates come with or without a zone, with a
//! space for the `T`, or as a bare day. Anything we cannot read gives `None` (the caller then
//! uses the first-seen time), never 1970.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    parse_iso8601(text).or_else(|| parse_rfc822(text))
}

fn parse_iso8601(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(date) = DateTime::parse_from_rfc3339(text) {
        return Some(date.with_timezone(&Utc));
    }
    let normalized = text.replacen(' ', "T", 1);
    let zoned = [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%dT%H:%M%z",
    ];
    for format in zoned {
        if let Ok(date) = DateTime::parse_from_str(&normalized, format) {
            return Some(date.with_timezone(&Utc));
        }
    }
    // No zone (or a trailing Z chrono did not take): UTC.
    let bare = normalized.trim_end_matches(['Z', 'z']);
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(date) = NaiveDateTime::parse_from_str(bare, format) {
            return Some(date.and_utc());
        }
    }
    NaiveDate::parse_from_str(bare, "%Y-%m-%d")
        .ok()
        .map(|day| day.and_time(NaiveTime::MIN).and_utc())
}

/// RFC 822 / RFC 2822, leniently: `[Weekday,] DD Mon YY[YY] HH:MM[:SS] [zone]`.
fn parse_rfc822(text: &str) -> Option<DateTime<Utc>> {
    let mut words = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|word| !word.is_empty())
        .peekable();
    if words
        .peek()
        .is_some_and(|word| word.chars().all(char::is_alphabetic) && month_number(word).is_none())
    {
        words.next(); // the weekday, right or wrong
    }
    let (first, second) = (words.next()?, words.next()?);
    // "02 Jan" or the American "Jan 02".
    let (day, month) = match first.parse::<u32>() {
        Ok(day) => (day, month_number(second)?),
        Err(_) => (second.parse().ok()?, month_number(first)?),
    };
    let year = match words.next()?.parse::<i32>().ok()? {
        year @ 0..=49 => 2000 + year,
        year @ 50..=99 => 1900 + year,
        year => year,
    };
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let time = match words.next() {
        Some(clock) => parse_clock(clock)?,
        None => NaiveTime::MIN,
    };
    let offset = match words.next() {
        Some(zone) => zone_offset(zone)?,
        None => FixedOffset::east_opt(0)?,
    };
    offset
        .from_local_datetime(&date.and_time(time))
        .single()
        .map(|date| date.with_timezone(&Utc))
}

fn month_number(word: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let prefix = word.get(..3)?.to_ascii_lowercase();
    MONTHS
        .iter()
        .position(|month| *month == prefix)
        .map(|index| index as u32 + 1)
}

fn parse_clock(clock: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(clock, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(clock, "%H:%M"))
        .ok()
}

/// Numeric zones (`+0100`, `-05:00`) and the names RFC 822 allows, plus a few common ones.
fn zone_offset(zone: &str) -> Option<FixedOffset> {
    let hours = |h: i32| FixedOffset::east_opt(h * 3600);
    match zone.to_ascii_uppercase().as_str() {
        "Z" | "UT" | "UTC" | "GMT" => hours(0),
        "EST" => hours(-5),
        "EDT" | "AST" => hours(-4),
        "CST" => hours(-6),
        "CDT" => hours(-5),
        "MST" => hours(-7),
        "MDT" => hours(-6),
        "PST" => hours(-8),
        "PDT" => hours(-7),
        "CET" => hours(1),
        "CEST" => hours(2),
        numeric => {
            let sign = match numeric.chars().next()? {
                '+' => 1,
                '-' => -1,
                _ => return None,
            };
            let digits: String = numeric[1..].chars().filter(char::is_ascii_digit).collect();
            let (h, m) = match digits.len() {
                4 => (
                    digits[..2].parse::<i32>().ok()?,
                    digits[2..].parse::<i32>().ok()?,
                ),
                2 => (digits.parse::<i32>().ok()?, 0),
                _ => return None,
            };
            FixedOffset::east_opt(sign * (h * 3600 + m * 60))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_world_dates_are_read() {
        let cases = [
            ("Tue, 10 Jun 2003 04:00:00 GMT", "2003-06-10T04:00:00+00:00"),
            (
                "Tue, 10 Jun 2003 04:00:00 +0200",
                "2003-06-10T02:00:00+00:00",
            ),
            ("Tue, 10 Jun 2003 04:00 PST", "2003-06-10T12:00:00+00:00"),
            ("Fri, 10 Jun 2003 04:00:00 EDT", "2003-06-10T08:00:00+00:00"),
            ("10 Jun 2003 04:00:00 UT", "2003-06-10T04:00:00+00:00"),
            ("Tue, 10 Jun 03 04:00:00 Z", "2003-06-10T04:00:00+00:00"),
            ("Tue, 10 Jun 99 04:00:00 GMT", "1999-06-10T04:00:00+00:00"),
            (
                "Tue, 10 June 2003 04:00:00 -05:00",
                "2003-06-10T09:00:00+00:00",
            ),
            ("Tue, 10 Jun 2003", "2003-06-10T00:00:00+00:00"),
            ("Jun 10 2003 04:00:00 GMT", "2003-06-10T04:00:00+00:00"),
            ("2003-06-10T04:00:00Z", "2003-06-10T04:00:00+00:00"),
            (
                "2003-06-10T04:00:00.123+02:00",
                "2003-06-10T02:00:00.123+00:00",
            ),
            ("2003-06-10T04:00:00+0200", "2003-06-10T02:00:00+00:00"),
            ("2003-06-10 04:00:00", "2003-06-10T04:00:00+00:00"),
            ("2003-06-10T04:00", "2003-06-10T04:00:00+00:00"),
            ("2003-06-10", "2003-06-10T00:00:00+00:00"),
        ];
        for (text, expected) in cases {
            assert_eq!(
                parse_date(text).map(|date| date.to_rfc3339()),
                Some(expected.to_string()),
                "{text}"
            );
        }
    }

    #[test]
    fn nonsense_is_none_not_1970() {
        for text in [
            "",
            "yesterday",
            "32 Jan 2003 00:00:00 GMT",
            "Tue, 10 Foo 2003",
            "2003-13-01",
            "12:00",
        ] {
            assert_eq!(parse_date(text), None, "{text}");
        }
    }
}
