//! The ILP timestamp: a UTC instant with millisecond precision, years 0000 to 9999.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::TimestampError;

/// A UTC instant with millisecond precision, as carried by a Prepare's `expiresAt`.
///
/// On the wire it is exactly 17 ASCII digits, `YYYYMMDDHHmmssfff` (RFC 0027). Parsing is strict,
/// as RFC 0030 asks and unlike the JavaScript reference: month 13, February 30, hour 24,
/// second 60, spaces and signs are all refused. As text (`Display`, `FromStr`, JSON) it is
/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
///
/// ```
/// use ilp_packet::Timestamp;
///
/// let t = Timestamp::from_ilp_bytes(b"20171224161432279")?;
/// assert_eq!(t.to_string(), "2017-12-24T16:14:32.279Z");
/// assert_eq!(t.to_ilp_bytes(), *b"20171224161432279");
/// assert!(Timestamp::from_ilp_bytes(b"20170230120000000").is_err()); // February 30
/// # Ok::<(), ilp_packet::TimestampError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp {
    // Field order gives chronological `Ord`.
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    millis: u16,
}

/// Milliseconds from 0000-01-01T00:00:00Z to the Unix epoch.
const MILLIS_0000_TO_UNIX: i64 = 62_167_219_200_000;
/// Milliseconds from 0000-01-01T00:00:00Z to 10000-01-01T00:00:00Z.
const MILLIS_SPAN: i64 = 315_569_520_000_000;

impl Timestamp {
    /// Length of the wire form.
    pub const ILP_LEN: usize = 17;

    /// A timestamp from its calendar fields, each range-checked.
    pub fn new(
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        millis: u16,
    ) -> Result<Self, TimestampError> {
        check(year > 9999, "year")?;
        check(!(1..=12).contains(&month), "month")?;
        check(day == 0 || day > days_in_month(year, month), "day")?;
        check(hour > 23, "hour")?;
        check(minute > 59, "minute")?;
        check(second > 59, "second")?;
        check(millis > 999, "millisecond")?;
        Ok(Self {
            year,
            month,
            day,
            hour,
            minute,
            second,
            millis,
        })
    }

    /// Parses the 17-digit wire form.
    pub fn from_ilp_bytes(bytes: &[u8]) -> Result<Self, TimestampError> {
        if bytes.len() != Self::ILP_LEN {
            return Err(TimestampError::InvalidFormat);
        }
        let digits = Digits { bytes };
        Self::new(
            digits.take(0, 4)? as u16,
            digits.take(4, 2)? as u8,
            digits.take(6, 2)? as u8,
            digits.take(8, 2)? as u8,
            digits.take(10, 2)? as u8,
            digits.take(12, 2)? as u8,
            digits.take(14, 3)? as u16,
        )
    }

    /// The 17-digit wire form.
    #[must_use]
    pub fn to_ilp_bytes(&self) -> [u8; 17] {
        let mut out = [0u8; 17];
        put_digits(&mut out[0..4], u32::from(self.year));
        put_digits(&mut out[4..6], u32::from(self.month));
        put_digits(&mut out[6..8], u32::from(self.day));
        put_digits(&mut out[8..10], u32::from(self.hour));
        put_digits(&mut out[10..12], u32::from(self.minute));
        put_digits(&mut out[12..14], u32::from(self.second));
        put_digits(&mut out[14..17], u32::from(self.millis));
        out
    }

    /// Milliseconds since the Unix epoch (negative before 1970).
    #[must_use]
    pub fn unix_millis(&self) -> i64 {
        let days = days_from_civil(i64::from(self.year), self.month, self.day);
        let secs =
            i64::from(self.hour) * 3600 + i64::from(self.minute) * 60 + i64::from(self.second);
        (days * 86_400 + secs) * 1000 + i64::from(self.millis)
    }

    /// The timestamp `millis` milliseconds after the Unix epoch; an error outside 0000-9999.
    pub fn from_unix_millis(millis: i64) -> Result<Self, TimestampError> {
        let from_0000 = millis
            .checked_add(MILLIS_0000_TO_UNIX)
            .filter(|m| (0..MILLIS_SPAN).contains(m))
            .ok_or(TimestampError::YearOutOfRange)?;
        let millis_of_day = from_0000.rem_euclid(86_400_000);
        let (year, month, day) = civil_from_days(millis.div_euclid(86_400_000));
        let secs = millis_of_day / 1000;
        Ok(Self {
            year: year as u16,
            month,
            day,
            hour: (secs / 3600) as u8,
            minute: (secs / 60 % 60) as u8,
            second: (secs % 60) as u8,
            millis: (millis_of_day % 1000) as u16,
        })
    }

    /// The current time, truncated to the millisecond.
    #[must_use]
    pub fn now() -> Self {
        Self::try_from(SystemTime::now()).unwrap_or(Self::MAX)
    }

    /// The latest representable instant, 9999-12-31T23:59:59.999Z.
    pub const MAX: Self = Self {
        year: 9999,
        month: 12,
        day: 31,
        hour: 23,
        minute: 59,
        second: 59,
        millis: 999,
    };

    /// The earliest representable instant, 0000-01-01T00:00:00.000Z.
    pub const MIN: Self = Self {
        year: 0,
        month: 1,
        day: 1,
        hour: 0,
        minute: 0,
        second: 0,
        millis: 0,
    };

    /// This instant plus `d` (sub-millisecond parts dropped); `None` past 9999.
    #[must_use]
    pub fn checked_add(&self, d: Duration) -> Option<Self> {
        let ms = i64::try_from(d.as_millis()).ok()?;
        Self::from_unix_millis(self.unix_millis().checked_add(ms)?).ok()
    }

    /// This instant minus `d` (sub-millisecond parts dropped); `None` before 0000.
    #[must_use]
    pub fn checked_sub(&self, d: Duration) -> Option<Self> {
        let ms = i64::try_from(d.as_millis()).ok()?;
        Self::from_unix_millis(self.unix_millis().checked_sub(ms)?).ok()
    }

    /// How long from `earlier` to `self`; zero when `earlier` is later.
    #[must_use]
    pub fn saturating_duration_since(&self, earlier: Self) -> Duration {
        let ms = self.unix_millis().saturating_sub(earlier.unix_millis());
        Duration::from_millis(u64::try_from(ms).unwrap_or(0))
    }

    /// The same instant as a [`SystemTime`].
    #[must_use]
    pub fn to_system_time(&self) -> SystemTime {
        let ms = self.unix_millis();
        let magnitude = Duration::from_millis(ms.unsigned_abs());
        if ms >= 0 {
            UNIX_EPOCH + magnitude
        } else {
            UNIX_EPOCH - magnitude
        }
    }

    /// The year, 0 to 9999.
    #[must_use]
    pub const fn year(&self) -> u16 {
        self.year
    }
    /// The month, 1 to 12.
    #[must_use]
    pub const fn month(&self) -> u8 {
        self.month
    }
    /// The day of the month, from 1.
    #[must_use]
    pub const fn day(&self) -> u8 {
        self.day
    }
    /// The hour, 0 to 23.
    #[must_use]
    pub const fn hour(&self) -> u8 {
        self.hour
    }
    /// The minute, 0 to 59.
    #[must_use]
    pub const fn minute(&self) -> u8 {
        self.minute
    }
    /// The second, 0 to 59.
    #[must_use]
    pub const fn second(&self) -> u8 {
        self.second
    }
    /// The millisecond, 0 to 999.
    #[must_use]
    pub const fn millisecond(&self) -> u16 {
        self.millis
    }
}

impl TryFrom<SystemTime> for Timestamp {
    type Error = TimestampError;

    /// Converts, truncating to the millisecond; an error outside the years 0000-9999.
    fn try_from(t: SystemTime) -> Result<Self, TimestampError> {
        let ms = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()),
            // Truncate towards the past so that an instant never moves later.
            Err(e) => i64::try_from(e.duration().as_micros().div_ceil(1000)).map(|m| -m),
        };
        Self::from_unix_millis(ms.map_err(|_| TimestampError::YearOutOfRange)?)
    }
}

impl From<Timestamp> for SystemTime {
    fn from(t: Timestamp) -> Self {
        t.to_system_time()
    }
}

fn check(bad: bool, field: &'static str) -> Result<(), TimestampError> {
    if bad {
        Err(TimestampError::OutOfRange(field))
    } else {
        Ok(())
    }
}

struct Digits<'a> {
    bytes: &'a [u8],
}

impl Digits<'_> {
    fn take(&self, at: usize, n: usize) -> Result<u32, TimestampError> {
        let start = at;
        let mut value = 0u32;
        for (i, &b) in self
            .bytes
            .get(start..start + n)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            if !b.is_ascii_digit() {
                return Err(TimestampError::NotDigit(start + i));
            }
            value = value * 10 + u32::from(b - b'0');
        }
        Ok(value)
    }
}

fn put_digits(out: &mut [u8], mut value: u32) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

const fn is_leap(year: u16) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

const fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.millis
        )
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    /// Parses `YYYY-MM-DDTHH:MM:SS[.f{1,3}]Z` (UTC only).
    fn from_str(s: &str) -> Result<Self, TimestampError> {
        let b = s.as_bytes();
        let layout_ok = b.len() >= 20
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && b[16] == b':'
            && b.last() == Some(&b'Z');
        if !layout_ok {
            return Err(TimestampError::InvalidFormat);
        }
        let fraction = &b[19..b.len() - 1];
        let millis = match fraction {
            [] => 0,
            [b'.', digits @ ..] if (1..=3).contains(&digits.len()) => {
                let d = Digits { bytes: digits };
                d.take(0, digits.len())
                    .map_err(|_| TimestampError::InvalidFormat)?
                    * 10u32.pow(3 - digits.len() as u32)
            }
            _ => return Err(TimestampError::InvalidFormat),
        };
        let d = Digits { bytes: b };
        Self::new(
            d.take(0, 4)? as u16,
            d.take(5, 2)? as u8,
            d.take(8, 2)? as u8,
            d.take(11, 2)? as u8,
            d.take(14, 2)? as u8,
            d.take(17, 2)? as u8,
            millis as u16,
        )
    }
}

serde_via_str!(Timestamp);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_wire_forms_roundtrip() {
        for s in [
            "20171224161432279",
            "20161231235959852",
            "20171225000000000",
            "99991224161432279",
            "00000101000000000",
            "20000229120000000",
        ] {
            let t = Timestamp::from_ilp_bytes(s.as_bytes()).unwrap();
            assert_eq!(&t.to_ilp_bytes(), s.as_bytes());
            assert_eq!(Timestamp::from_unix_millis(t.unix_millis()), Ok(t));
            assert_eq!(t.to_string().parse::<Timestamp>(), Ok(t));
        }
    }

    #[test]
    fn decode_invalid_wire_forms_is_rejected() {
        let cases: &[(&str, TimestampError)] = &[
            ("20171324161432200", TimestampError::OutOfRange("month")),
            ("20171224240000000", TimestampError::OutOfRange("hour")),
            ("20161231235960852", TimestampError::OutOfRange("second")),
            ("20170230120000000", TimestampError::OutOfRange("day")),
            ("21000229120000000", TimestampError::OutOfRange("day")),
            ("00000000000000000", TimestampError::OutOfRange("month")),
            ("20171224166032279", TimestampError::OutOfRange("minute")),
            ("2017122416143227Z", TimestampError::NotDigit(16)),
            ("  171224161432279", TimestampError::NotDigit(0)),
            ("+0171224161432279", TimestampError::NotDigit(0)),
            ("2017122416143227", TimestampError::InvalidFormat),
        ];
        for (s, err) in cases {
            assert_eq!(Timestamp::from_ilp_bytes(s.as_bytes()), Err(*err), "{s}");
        }
    }

    #[test]
    fn unix_conversions_agree_with_known_instants() {
        let t = Timestamp::from_ilp_bytes(b"20171223012140549").unwrap();
        assert_eq!(t.unix_millis(), 1_513_992_100_549);
        assert_eq!(
            Timestamp::from_unix_millis(0).unwrap().to_string(),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            Timestamp::from_unix_millis(-1).unwrap().to_string(),
            "1969-12-31T23:59:59.999Z"
        );
        assert_eq!(Timestamp::MIN.unix_millis(), -MILLIS_0000_TO_UNIX);
        assert_eq!(
            Timestamp::MAX.unix_millis() + 1,
            MILLIS_SPAN - MILLIS_0000_TO_UNIX
        );
        assert_eq!(
            Timestamp::from_unix_millis(Timestamp::MAX.unix_millis() + 1),
            Err(TimestampError::YearOutOfRange)
        );
        assert_eq!(
            Timestamp::from_unix_millis(Timestamp::MIN.unix_millis() - 1),
            Err(TimestampError::YearOutOfRange)
        );
        let st = t.to_system_time();
        assert_eq!(Timestamp::try_from(st), Ok(t));
        assert_eq!(
            t.checked_add(Duration::from_millis(451))
                .unwrap()
                .to_string(),
            "2017-12-23T01:21:41.000Z"
        );
        assert_eq!(Timestamp::MAX.checked_add(Duration::from_millis(1)), None);
    }

    #[test]
    fn text_form_is_strict() {
        assert_eq!(
            "2017-12-24T16:14:32.2Z"
                .parse::<Timestamp>()
                .map(|t| t.millisecond()),
            Ok(200)
        );
        assert_eq!(
            "2017-12-24T16:14:32Z"
                .parse::<Timestamp>()
                .map(|t| t.millisecond()),
            Ok(0)
        );
        for bad in [
            "2017-12-24T16:14:32.2799Z",
            "2017-12-24 16:14:32.279Z",
            "2017-12-24T16:14:32.279",
            "2017-12-24T16:14:32.Z",
        ] {
            assert_eq!(
                bad.parse::<Timestamp>(),
                Err(TimestampError::InvalidFormat),
                "{bad}"
            );
        }
        assert_eq!(
            "2017-13-24T16:14:32.279Z".parse::<Timestamp>(),
            Err(TimestampError::OutOfRange("month"))
        );
    }
}
