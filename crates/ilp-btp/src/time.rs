//! The variable-length GeneralizedTime of an Error's `triggeredAt` (RFC 0023, RFC 0030).

use std::time::Duration;

use ilp_packet::{Timestamp, TimestampError};

/// Length of the form this crate writes, `YYYYMMDDHHmmss.fffZ`.
pub(crate) const ENCODED_LEN: usize = 19;

/// Parses `YYYYMMDDHHmmss[.f{1,3}]Z` (lengths 15, 17, 18, 19).
///
/// Every field is range-checked by [`Timestamp::new`]. A leap second (`60`) is accepted only at
/// 23:59 (where leap seconds are inserted) and read as the first second of the next day, as
/// POSIX time and the JavaScript `Date` do: [`Timestamp`] has no second 60.
pub(crate) fn parse(b: &[u8]) -> Result<Timestamp, TimestampError> {
    let (digits14, rest) = match b {
        [..] if b.len() >= 15 => b.split_at(14),
        _ => return Err(TimestampError::InvalidFormat),
    };
    let millis = match rest {
        [b'Z'] => 0,
        [b'.', fraction @ .., b'Z'] if (1..=3).contains(&fraction.len()) => {
            digits(fraction, 15)? * 10u32.pow(3 - fraction.len() as u32)
        }
        _ => return Err(TimestampError::InvalidFormat),
    };
    let field = |at: usize, n: usize| digits(&digits14[at..at + n], at);
    let (hour, minute, second) = (field(8, 2)? as u8, field(10, 2)? as u8, field(12, 2)? as u8);
    let leap = second == 60 && hour == 23 && minute == 59;
    let t = Timestamp::new(
        field(0, 4)? as u16,
        field(4, 2)? as u8,
        field(6, 2)? as u8,
        hour,
        minute,
        if leap { 59 } else { second },
        millis as u16,
    )?;
    if leap {
        t.checked_add(Duration::from_secs(1))
            .ok_or(TimestampError::YearOutOfRange)
    } else {
        Ok(t)
    }
}

/// `bytes` as a decimal number; `at` is the offset of `bytes` in the whole field.
fn digits(bytes: &[u8], at: usize) -> Result<u32, TimestampError> {
    bytes.iter().enumerate().try_fold(0u32, |acc, (i, &b)| {
        if b.is_ascii_digit() {
            Ok(acc * 10 + u32::from(b - b'0'))
        } else {
            Err(TimestampError::NotDigit(at + i))
        }
    })
}

/// The `YYYYMMDDHHmmss.fffZ` form, the only one the JavaScript reference can read.
pub(crate) fn format(t: Timestamp) -> [u8; ENCODED_LEN] {
    let ilp = t.to_ilp_bytes();
    let mut out = [0u8; ENCODED_LEN];
    out[..14].copy_from_slice(&ilp[..14]);
    out[14] = b'.';
    out[15..18].copy_from_slice(&ilp[14..]);
    out[18] = b'Z';
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Result<String, TimestampError> {
        parse(s.as_bytes()).map(|t| t.to_string())
    }

    #[test]
    fn accepts_zero_to_three_fraction_digits() {
        assert_eq!(
            text("20171224161432.279Z").unwrap(),
            "2017-12-24T16:14:32.279Z"
        );
        assert_eq!(
            text("20171224161432.27Z").unwrap(),
            "2017-12-24T16:14:32.270Z"
        );
        assert_eq!(
            text("20171224161432.2Z").unwrap(),
            "2017-12-24T16:14:32.200Z"
        );
        assert_eq!(
            text("20171224161432.20Z").unwrap(),
            "2017-12-24T16:14:32.200Z"
        );
        assert_eq!(text("20171224161432Z").unwrap(), "2017-12-24T16:14:32.000Z");
        assert_eq!(
            text("99991231235959.999Z").unwrap(),
            "9999-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn leap_second_rolls_into_the_next_day() {
        assert_eq!(
            text("20161231235960.852Z").unwrap(),
            "2017-01-01T00:00:00.852Z"
        );
        assert_eq!(text("99991231235960Z"), Err(TimestampError::YearOutOfRange));
        assert_eq!(
            text("20161231225960Z"),
            Err(TimestampError::OutOfRange("second"))
        );
    }

    #[test]
    fn decode_bad_times_is_rejected() {
        let cases = [
            ("20171224235312.431+0200", TimestampError::InvalidFormat),
            ("20171224215312.4318Z", TimestampError::InvalidFormat),
            ("20171224161432,279Z", TimestampError::InvalidFormat),
            ("20171224230000.Z", TimestampError::InvalidFormat),
            ("2017122421531Z", TimestampError::InvalidFormat),
            ("20171224161432.279", TimestampError::InvalidFormat),
            ("", TimestampError::InvalidFormat),
            ("20171324161432.279Z", TimestampError::OutOfRange("month")),
            ("20171224240000Z", TimestampError::OutOfRange("hour")),
            ("20170230120000Z", TimestampError::OutOfRange("day")),
            ("2017122416143a.279Z", TimestampError::NotDigit(13)),
            ("20171224161432.2a9Z", TimestampError::NotDigit(16)),
        ];
        for (s, err) in cases {
            assert_eq!(text(s), Err(err), "{s}");
        }
    }

    #[test]
    fn formats_three_fraction_digits() {
        let t = parse(b"20170828183200Z").unwrap();
        assert_eq!(&format(t), b"20170828183200.000Z");
        assert_eq!(parse(&format(t)), Ok(t));
    }
}
