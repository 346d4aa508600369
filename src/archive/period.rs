//! Periods of runs as people write them: `7d` back from now, or a date to a date (`cycle`,
//! `archive prune --older-than`).

use jiff::{Timestamp, ToSpan};

/// The period a cycle report covers when none is given.
pub(crate) const DEFAULT_SINCE: &str = "7d";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PeriodError {
    #[error("bad duration `{0}`")]
    Duration(String),
    #[error("bad date `{0}`")]
    Date(String),
    #[error("the period starts after it ends ({from} > {to})")]
    Reversed { from: Timestamp, to: Timestamp },
}

impl PeriodError {
    /// What to write instead.
    pub fn hint(&self) -> &'static str {
        match self {
            PeriodError::Duration(_) => "write a number with a unit: 90m, 36h, 7d, 2w",
            PeriodError::Date(_) => "write 2026-11-20 or 2026-11-20T08:00:00Z",
            PeriodError::Reversed { .. } => "swap --from and --to",
        }
    }
}

/// `7d`, `36h`, `90m`, `2w` back from `now`.
pub(crate) fn ago(text: &str, now: Timestamp) -> Result<Timestamp, PeriodError> {
    let bad = || PeriodError::Duration(text.to_string());
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().map_err(|_| bad())?;
    let hours = match unit {
        "m" => return now.checked_sub(number.minutes()).map_err(|_| bad()),
        "h" => number,
        "d" => number * 24,
        "w" => number * 24 * 7,
        _ => return Err(bad()),
    };
    now.checked_sub(hours.hours()).map_err(|_| bad())
}

/// A date (`2026-11-20`: its start, or its end with `end_of_day`) or an RFC 3339 time.
pub(crate) fn moment(text: &str, end_of_day: bool) -> Result<Timestamp, PeriodError> {
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Ok(ts);
    }
    let bad = || PeriodError::Date(text.to_string());
    let date: jiff::civil::Date = text.parse().map_err(|_| bad())?;
    let time = if end_of_day { jiff::civil::time(23, 59, 59, 999_999_999) } else { jiff::civil::time(0, 0, 0, 0) };
    jiff::tz::TimeZone::UTC.to_timestamp(date.to_datetime(time)).map_err(|_| bad())
}

/// The period `(from, to)`: `since` back from `now`, or from `from` (default: a week before
/// `to`) to `to` (default: `now`; a date means the end of that day).
pub(crate) fn between(
    since: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    now: Timestamp,
) -> Result<(Timestamp, Timestamp), PeriodError> {
    let (from, to) = match (from, to) {
        (None, None) => (ago(since.unwrap_or(DEFAULT_SINCE), now)?, now),
        (from, to) => {
            let to = to.map(|text| moment(text, true)).transpose()?.unwrap_or(now);
            let from = match from {
                Some(text) => moment(text, false)?,
                None => ago(DEFAULT_SINCE, to)?,
            };
            (from, to)
        }
    };
    if from > to {
        return Err(PeriodError::Reversed { from, to });
    }
    Ok((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        let now: Timestamp = "2026-11-26T12:00:00Z".parse().unwrap();
        assert_eq!(ago("7d", now).unwrap().to_string(), "2026-11-19T12:00:00Z");
        assert_eq!(ago("36h", now).unwrap().to_string(), "2026-11-25T00:00:00Z");
        assert_eq!(ago("2w", now).unwrap().to_string(), "2026-11-12T12:00:00Z");
        assert_eq!(ago("soon", now), Err(PeriodError::Duration("soon".into())));
        assert_eq!(moment("2026-11-20", false).unwrap().to_string(), "2026-11-20T00:00:00Z");
        assert!(moment("2026-11-20", true).unwrap().to_string().starts_with("2026-11-20T23:59:59"));
        assert_eq!(moment("last tuesday", false), Err(PeriodError::Date("last tuesday".into())));
    }

    #[test]
    fn between_dates() {
        let now: Timestamp = "2026-11-26T12:00:00Z".parse().unwrap();
        let (from, to) = between(None, Some("2026-11-20"), None, now).unwrap();
        assert_eq!((from.to_string(), to), ("2026-11-20T00:00:00Z".to_string(), now));
        let (from, _) = between(None, None, Some("2026-11-21"), now).unwrap();
        assert_eq!(from.to_string(), "2026-11-14T23:59:59.999999999Z");
        assert!(matches!(
            between(None, Some("2026-11-22"), Some("2026-11-21"), now),
            Err(PeriodError::Reversed { .. })
        ));
    }
}
