//! `${now}`, `${now:FORMAT}` and `${now+N:unit:FORMAT}` (`now-N` too): the request's moment in
//! UTC, in the day.js-style formats the catalog writes (`YYYY-MM-DDTHH:mm:ss`,
//! `YYYYMMDDTHHmmss[Z]`, `ddd, DD MMM YYYY HH:mm:ss ZZ`, `X`). Text in `[…]` is literal.

use time::{Duration, OffsetDateTime};

use super::TemplateError;

const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Whether a variable name is one of the `now` forms.
pub fn is_now(name: &str) -> bool {
    name == "now" || name.starts_with("now:") || name.starts_with("now+") || name.starts_with("now-")
}

fn unsupported(name: &str) -> TemplateError {
    TemplateError::Unsupported(format!("${{{name}}}"))
}

/// The value of a `now` variable at `at`.
pub fn render(name: &str, at: OffsetDateTime) -> Result<String, TemplateError> {
    let at = at.to_offset(time::UtcOffset::UTC);
    let rest = &name[3..];
    if rest.is_empty() {
        return Ok(format(at, "YYYY-MM-DDTHH:mm:ss.SSS[Z]"));
    }
    if let Some(format_text) = rest.strip_prefix(':') {
        return Ok(format(at, format_text));
    }
    // `+N:unit:FORMAT` or `-N:unit:FORMAT`.
    let sign = if rest.starts_with('-') { -1 } else { 1 };
    let mut parts = rest[1..].splitn(3, ':');
    let (Some(n), Some(unit)) = (parts.next(), parts.next()) else {
        return Err(unsupported(name));
    };
    let n: i64 = n.parse().map_err(|_| unsupported(name))?;
    let step = match unit.trim_end_matches('s') {
        "second" => Duration::seconds(1),
        "minute" => Duration::minutes(1),
        "hour" => Duration::hours(1),
        "day" => Duration::days(1),
        "week" => Duration::weeks(1),
        _ => return Err(unsupported(name)),
    };
    let moved = step
        .checked_mul((sign * n).try_into().map_err(|_| unsupported(name))?)
        .and_then(|d| at.checked_add(d))
        .ok_or_else(|| unsupported(name))?;
    Ok(format(moved, parts.next().unwrap_or("YYYY-MM-DDTHH:mm:ss.SSS[Z]")))
}

/// The tokens, longest first so `YYYY` wins over `YY`.
const TOKENS: &[&str] = &[
    "YYYY", "MMMM", "dddd", "SSS", "MMM", "ddd", "YY", "MM", "DD", "HH", "hh", "mm", "ss", "ZZ", "M", "D", "H", "h",
    "m", "s", "Z", "X", "x", "A", "a",
];

fn token_value(token: &str, t: OffsetDateTime) -> String {
    let hour12 = match t.hour() % 12 {
        0 => 12,
        h => h,
    };
    let month = u8::from(t.month()) as usize - 1;
    let day = t.weekday().number_days_from_monday() as usize;
    match token {
        "YYYY" => format!("{:04}", t.year()),
        "YY" => format!("{:02}", t.year().rem_euclid(100)),
        "MMMM" => MONTHS[month].to_owned(),
        "MMM" => MONTHS[month][..3].to_owned(),
        "MM" => format!("{:02}", month + 1),
        "M" => (month + 1).to_string(),
        "DD" => format!("{:02}", t.day()),
        "D" => t.day().to_string(),
        "dddd" => DAYS[day].to_owned(),
        "ddd" => DAYS[day][..3].to_owned(),
        "HH" => format!("{:02}", t.hour()),
        "H" => t.hour().to_string(),
        "hh" => format!("{hour12:02}"),
        "h" => hour12.to_string(),
        "mm" => format!("{:02}", t.minute()),
        "m" => t.minute().to_string(),
        "ss" => format!("{:02}", t.second()),
        "s" => t.second().to_string(),
        "SSS" => format!("{:03}", t.millisecond()),
        "Z" => "+00:00".into(),
        "ZZ" => "+0000".into(),
        "X" => t.unix_timestamp().to_string(),
        "x" => (t.unix_timestamp_nanos() / 1_000_000).to_string(),
        "A" => if t.hour() < 12 { "AM" } else { "PM" }.into(),
        _ => if t.hour() < 12 { "am" } else { "pm" }.into(),
    }
}

/// Formats `t` with day.js tokens; anything else is copied, `[…]` verbatim.
pub fn format(t: OffsetDateTime, pattern: &str) -> String {
    let mut out = String::new();
    let mut rest = pattern;
    'outer: while let Some(c) = rest.chars().next() {
        if c == '[' {
            if let Some(end) = rest.find(']') {
                out.push_str(&rest[1..end]);
                rest = &rest[end + 1..];
                continue;
            }
        }
        for token in TOKENS {
            if let Some(after) = rest.strip_prefix(token) {
                out.push_str(&token_value(token, t));
                rest = after;
                continue 'outer;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> OffsetDateTime {
        // Tuesday 2026-03-03 09:05:07.042 UTC.
        OffsetDateTime::from_unix_timestamp_nanos(1_772_528_707_042_000_000).unwrap()
    }

    #[test]
    fn the_catalogs_formats_render_in_utc() {
        assert_eq!(render("now", at()).unwrap(), "2026-03-03T09:05:07.042Z");
        assert_eq!(render("now:YYYY-MM-DDTHH:mm:ss", at()).unwrap(), "2026-03-03T09:05:07");
        assert_eq!(render("now:YYYYMMDDTHHmmss[Z]", at()).unwrap(), "20260303T090507Z");
        assert_eq!(
            render("now:ddd, DD MMM YYYY HH:mm:ss ZZ", at()).unwrap(),
            "Tue, 03 Mar 2026 09:05:07 +0000"
        );
        assert_eq!(render("now:X", at()).unwrap(), "1772528707");
        assert_eq!(render("now+1:minutes:X", at()).unwrap(), "1772528767");
        assert_eq!(render("now+7:days:YYYY-MM-DD", at()).unwrap(), "2026-03-10");
        assert_eq!(render("now-1:hour:h A", at()).unwrap(), "8 AM");
        let shifted = at().to_offset(time::UtcOffset::from_hms(5, 30, 0).unwrap());
        assert_eq!(render("now:HH:mm", shifted).unwrap(), "09:05", "always UTC");
    }

    #[test]
    fn unknown_shapes_are_unsupported_not_guessed() {
        for bad in [
            "now+x:days:X",
            "now+1:fortnights:X",
            "now+1",
            "now+99999999999999:days:X",
        ] {
            assert!(matches!(render(bad, at()), Err(TemplateError::Unsupported(_))), "{bad}");
        }
    }
}
