//! Durations written the way people write them: `500ms`, `30s`, `5m`, `1h`, `1m30s`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::time::Duration as StdDuration;

/// A non-negative duration parsed from a string with a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub StdDuration);

impl Duration {
    pub const fn from_secs(secs: u64) -> Self {
        Duration(StdDuration::from_secs(secs))
    }

    pub fn as_std(self) -> StdDuration {
        self.0
    }
}

/// Why a duration string was refused; the message doubles as the user-facing hint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad duration `{0}`: write a number with a unit, like 500ms, 30s, 5m or 1h")]
pub struct BadDuration(pub String);

impl FromStr for Duration {
    type Err = BadDuration;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        // jiff also reads ISO 8601 (`PT5M`) and calendar units; only the friendly clock units
        // are part of our format, so insist on a leading digit.
        if !trimmed.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(BadDuration(text.to_string()));
        }
        let parsed: jiff::SignedDuration = trimmed.parse().map_err(|_| BadDuration(text.to_string()))?;
        let std = StdDuration::try_from(parsed).map_err(|_| BadDuration(text.to_string()))?;
        Ok(Duration(std))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms == 0 {
            write!(f, "0s")
        } else if ms.is_multiple_of(3_600_000) {
            write!(f, "{}h", ms / 3_600_000)
        } else if ms.is_multiple_of(60_000) {
            write!(f, "{}m", ms / 60_000)
        } else if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str) -> f64 {
        text.parse::<Duration>().unwrap().0.as_secs_f64()
    }

    #[test]
    fn accepts_clock_units() {
        assert_eq!(secs("500ms"), 0.5);
        assert_eq!(secs("30s"), 30.0);
        assert_eq!(secs("5m"), 300.0);
        assert_eq!(secs("1h"), 3600.0);
        assert_eq!(secs("1m30s"), 90.0);
        assert_eq!(secs("1.5s"), 1.5);
    }

    #[test]
    fn refuses_the_rest() {
        for bad in ["", "5", "5x", "-5s", "PT5M", "1d", "soon", "s"] {
            assert!(bad.parse::<Duration>().is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn displays_compactly() {
        for text in ["500ms", "30s", "5m", "1h", "90s"] {
            assert_eq!(text.parse::<Duration>().unwrap().to_string(), text);
        }
    }
}
