//! A bound on what refused, unauthenticated requests may write: per process and minute, so a
//! flood of them cannot grow the activity log without bound. Depends on nothing in the crate.

use std::sync::Mutex;

use time::OffsetDateTime;

/// How many refusals of unauthenticated requests a process records per minute; the rest are
/// counted and summed up in one entry when the next minute's first refusal comes. On Lambda
/// each instance keeps its own count, so the log grows by at most this many entries a minute
/// per instance (and the functions' reserved concurrency bounds the instances).
pub struct RefusalLog {
    pub per_minute: u32,
    window: Mutex<Window>,
}

#[derive(Default)]
struct Window {
    minute: i64,
    recorded: u32,
    dropped: u64,
}

impl RefusalLog {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            window: Mutex::new(Window::default()),
        }
    }

    /// Whether a refusal at `now` is recorded, and how many were dropped in the window that
    /// just ended (to be noted once).
    pub fn admit(&self, now: OffsetDateTime) -> (bool, Option<u64>) {
        let minute = now.unix_timestamp().div_euclid(60);
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let mut ended = None;
        if w.minute != minute {
            ended = Some(w.dropped).filter(|d| *d > 0);
            *w = Window {
                minute,
                ..Window::default()
            };
        }
        if w.recorded < self.per_minute {
            w.recorded += 1;
            (true, ended)
        } else {
            w.dropped += 1;
            (false, ended)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_beyond_the_cap_are_counted_and_noted_once_the_minute_ends() {
        let log = RefusalLog::new(3);
        let t = OffsetDateTime::from_unix_timestamp(1_700_000_040).unwrap();
        let admitted: Vec<bool> = (0..10).map(|_| log.admit(t).0).collect();
        assert_eq!(
            admitted,
            [true, true, true, false, false, false, false, false, false, false]
        );
        let next = t + time::Duration::minutes(1);
        assert_eq!(log.admit(next), (true, Some(7)), "the dropped are noted once");
        assert_eq!(log.admit(next), (true, None));
    }
}
