//! Numbers in checks: plain (`90`, `0.5`), percentages (`90%`) and sizes (`20GiB`, `500MB`).

use std::fmt;

/// Why a number or size was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "bad size `{0}`: write a number with an optional unit — B, KB/MB/GB/TB (×1000), KiB/MiB/GiB/TiB (×1024), K/M/G/T (×1024) — or a percentage like 90%"
)]
pub(crate) struct BadSize(pub String);

/// Parses `20GiB`, `1.5 TB`, `512`, `90%` into a number (bytes for sizes).
pub(crate) fn parse_quantity(text: &str) -> Result<f64, BadSize> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == '_'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let number: f64 = number.replace('_', "").parse().map_err(|_| BadSize(text.to_string()))?;
    if !number.is_finite() {
        return Err(BadSize(text.to_string()));
    }
    let factor = match unit.trim() {
        "" | "B" | "%" => 1.0,
        "KB" | "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        "PB" => 1e15,
        "K" | "KiB" | "k" => 1024.0,
        "M" | "MiB" => 1024f64.powi(2),
        "G" | "GiB" => 1024f64.powi(3),
        "T" | "TiB" => 1024f64.powi(4),
        "P" | "PiB" => 1024f64.powi(5),
        _ => return Err(BadSize(text.to_string())),
    };
    Ok(number * factor)
}

/// Renders a byte count the way `df -h` users read it: `18.6 GiB`.
pub(crate) struct HumanBytes(pub f64);

impl HumanBytes {
    /// A count of bytes, as output sizes are kept.
    pub(crate) fn of(bytes: u64) -> HumanBytes {
        HumanBytes(bytes as f64)
    }
}

impl fmt::Display for HumanBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        let mut value = self.0;
        let mut unit = 0;
        while value.abs() >= 1024.0 && unit < UNITS.len() - 1 {
            value /= 1024.0;
            unit += 1;
        }
        if unit == 0 { write!(f, "{value} B") } else { write!(f, "{value:.1} {}", UNITS[unit]) }
    }
}

/// A number without a trailing `.0`, so `90` reads as `90` in messages.
pub(crate) struct Number(pub f64);

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.fract() == 0.0 && self.0.abs() < 1e15 {
            write!(f, "{}", self.0 as i64)
        } else {
            let text = format!("{:.2}", self.0);
            write!(f, "{}", text.trim_end_matches('0').trim_end_matches('.'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_quantity("20GiB").unwrap(), 20.0 * 1024f64.powi(3));
        assert_eq!(parse_quantity("500MB").unwrap(), 500e6);
        assert_eq!(parse_quantity("1.5 TB").unwrap(), 1.5e12);
        assert_eq!(parse_quantity("90%").unwrap(), 90.0);
        assert_eq!(parse_quantity("1_000").unwrap(), 1000.0);
        assert_eq!(parse_quantity("4G").unwrap(), 4.0 * 1024f64.powi(3));
    }

    #[test]
    fn bad_sizes() {
        for bad in ["", "GiB", "20 parsecs", "1e400", "--1", "20GIB"] {
            assert!(parse_quantity(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn human_output() {
        assert_eq!(HumanBytes(512.0).to_string(), "512 B");
        assert_eq!(HumanBytes(20.0 * 1024f64.powi(3)).to_string(), "20.0 GiB");
        assert_eq!(Number(90.0).to_string(), "90");
        assert_eq!(Number(12.5).to_string(), "12.5");
    }
}
