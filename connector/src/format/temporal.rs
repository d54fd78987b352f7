//! Dates, times and timestamps as text: the ISO 8601 / RFC 3339 forms that JSON records carry,
//! read into Arrow's integer representations and written back.
//!
//! Hand-written rather than a date library: only the interchange forms are accepted
//! (`2024-03-01`, `12:30:00.5`, `2024-03-01T12:30:00.123456Z`, `2024-03-01 12:30:00+02:00`),
//! and every arithmetic step is checked, so no input can overflow or panic.
//!
//! Not `arrow_cast::parse` either, though it is Arrow's own: it accepts another set of forms.
//! It takes `2024-2-01`, `+2024-03-01`, `20240301`, `6:00 pm` and `1970-01-01 092656`, which
//! are refused here; it refuses `12:30:01,5` and timestamps before year 0; and it reads every
//! timestamp through `i64` nanoseconds, so a `TIMESTAMP(3)` in the year 3000 would not parse.

use arrow_schema::TimeUnit;

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<u32> {
        let part = self.s.get(self.pos..self.pos + n)?;
        let mut v = 0u32;
        for &b in part {
            if !b.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(b - b'0');
        }
        self.pos += n;
        Some(v)
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.s.get(self.pos) == Some(&b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn done(&self) -> bool {
        self.pos == self.s.len()
    }
}

fn date(c: &mut Cursor<'_>) -> Option<i64> {
    let negative = c.eat(b'-');
    let year = i64::from(c.digits(4)?);
    let year = if negative { -year } else { year };
    if !c.eat(b'-') {
        return None;
    }
    let month = c.digits(2)?;
    if !c.eat(b'-') {
        return None;
    }
    let day = c.digits(2)?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// `HH:MM[:SS[.fffffffff]]` into nanoseconds since midnight.
fn time(c: &mut Cursor<'_>) -> Option<i64> {
    let hour = c.digits(2)?;
    if !c.eat(b':') {
        return None;
    }
    let minute = c.digits(2)?;
    let mut second = 0;
    let mut nanos = 0i64;
    if c.eat(b':') {
        second = c.digits(2)?;
        if c.eat(b'.') || c.eat(b',') {
            let mut scale = 100_000_000i64;
            let start = c.pos;
            while let Some(b) = c.peek().filter(u8::is_ascii_digit) {
                nanos += i64::from(b - b'0') * scale;
                scale /= 10;
                c.pos += 1;
            }
            if c.pos == start {
                return None;
            }
        }
    }
    // 60 allows a leap second, folded into the next minute like most systems do.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some(
        (i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second)) * 1_000_000_000
            + nanos,
    )
}

/// A date as days since 1970-01-01.
pub(crate) fn parse_date(text: &str) -> Option<i32> {
    let mut c = Cursor {
        s: text.as_bytes(),
        pos: 0,
    };
    let days = date(&mut c)?;
    c.done().then(|| i32::try_from(days).ok()).flatten()
}

/// A time of day as nanoseconds since midnight.
pub(crate) fn parse_time(text: &str) -> Option<i64> {
    let mut c = Cursor {
        s: text.as_bytes(),
        pos: 0,
    };
    let t = time(&mut c)?;
    c.done().then_some(t)
}

/// A timestamp as nanoseconds since the epoch (UTC): a date, optionally `T` or a space and a
/// time, optionally `Z` or `±HH[:MM]`. Without an offset the time is taken as UTC.
pub(crate) fn parse_timestamp_nanos(text: &str) -> Option<i128> {
    let mut c = Cursor {
        s: text.as_bytes(),
        pos: 0,
    };
    let days = date(&mut c)?;
    let mut nanos = 0i64;
    if c.eat(b'T') || c.eat(b't') || c.eat(b' ') {
        nanos = time(&mut c)?;
        let offset_seconds = match c.peek() {
            Some(b'Z' | b'z') => {
                c.pos += 1;
                0
            }
            Some(sign @ (b'+' | b'-')) => {
                c.pos += 1;
                let h = c.digits(2)?;
                c.eat(b':');
                let m = if c.done() { 0 } else { c.digits(2)? };
                if h > 23 || m > 59 {
                    return None;
                }
                let s = i64::from(h * 3600 + m * 60);
                if sign == b'+' { s } else { -s }
            }
            _ => 0,
        };
        nanos -= offset_seconds * 1_000_000_000;
    }
    if !c.done() {
        return None;
    }
    Some(i128::from(days) * 86_400_000_000_000 + i128::from(nanos))
}

/// Nanoseconds into `unit` (truncated towards negative infinity), if it fits in an `i64`.
pub(crate) fn nanos_to_unit(nanos: i128, unit: TimeUnit) -> Option<i64> {
    let v = nanos.div_euclid(unit_nanos(unit));
    i64::try_from(v).ok()
}

/// Nanoseconds in one tick of `unit`.
pub(crate) fn unit_nanos(unit: TimeUnit) -> i128 {
    match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    }
}

/// `YYYY-MM-DD`.
pub(crate) fn format_date(days: i64, out: &mut String) {
    use std::fmt::Write;
    let (y, m, d) = civil_from_days(days);
    let _ = write!(out, "{y:04}-{m:02}-{d:02}");
}

/// `HH:MM:SS` with as many fraction digits as `unit` has.
pub(crate) fn format_time(nanos_of_day: i64, unit: TimeUnit, out: &mut String) {
    use std::fmt::Write;
    let secs = nanos_of_day.div_euclid(1_000_000_000);
    let frac = nanos_of_day.rem_euclid(1_000_000_000);
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    );
    match unit {
        TimeUnit::Second => {}
        TimeUnit::Millisecond => {
            let _ = write!(out, ".{:03}", frac / 1_000_000);
        }
        TimeUnit::Microsecond => {
            let _ = write!(out, ".{:06}", frac / 1_000);
        }
        TimeUnit::Nanosecond => {
            let _ = write!(out, ".{frac:09}");
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.f…]`, then `Z` when `utc`.
pub(crate) fn format_timestamp(value: i64, unit: TimeUnit, utc: bool, out: &mut String) {
    let nanos = i128::from(value) * unit_nanos(unit);
    let day_nanos = 86_400_000_000_000i128;
    let days = nanos.div_euclid(day_nanos) as i64;
    let of_day = nanos.rem_euclid(day_nanos) as i64;
    format_date(days, out);
    out.push('T');
    format_time(of_day, unit, out);
    if utc {
        out.push('Z');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip_over_a_wide_range() {
        for days in (-1_000_000..1_000_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn interchange_forms_parse_and_invalid_ones_do_not() {
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2024-2-01"), None);
        assert_eq!(parse_time("12:30:01.5"), Some(45_001_500_000_000));
        assert_eq!(parse_time("24:00:00"), None);
        assert_eq!(
            parse_timestamp_nanos("1970-01-01T00:00:01.25Z"),
            Some(1_250_000_000)
        );
        assert_eq!(
            parse_timestamp_nanos("1970-01-01 02:00:00+02:00"),
            Some(0),
            "offsets are applied"
        );
        assert_eq!(parse_timestamp_nanos("1970-01-01"), Some(0));
        assert_eq!(parse_timestamp_nanos("1970-01-01T00:00:00Zjunk"), None);
        assert_eq!(parse_timestamp_nanos(""), None);
    }

    #[test]
    fn formatting_is_the_inverse_of_parsing() {
        let mut s = String::new();
        format_timestamp(1_700_000_000_123, TimeUnit::Millisecond, true, &mut s);
        assert_eq!(s, "2023-11-14T22:13:20.123Z");
        assert_eq!(parse_timestamp_nanos(&s), Some(1_700_000_000_123_000_000));
        s.clear();
        format_timestamp(-1, TimeUnit::Microsecond, false, &mut s);
        assert_eq!(s, "1969-12-31T23:59:59.999999");
        assert_eq!(parse_timestamp_nanos(&s), Some(-1_000));
    }
}
