//! Time, injectable: expiry rules are tested by moving a clock, not by sleeping. Waits go
//! through the clock too (`Clock::sleep`: a reader polling for another instance's refresh), so
//! a test clock can make them move time instead of taking it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use time::OffsetDateTime;

/// A wait, as the clock makes it.
pub type Wait<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;

    /// Waits `d` of this clock's time. By default, real time.
    fn sleep(&self, d: std::time::Duration) -> Wait<'_> {
        Box::pin(tokio::time::sleep(d))
    }
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// The system clock plus an offset that tests advance. With `virtual_waits`, a wait advances
/// the offset instead of sleeping (and yields, so other tasks run).
#[derive(Default)]
pub struct ShiftedClock {
    offset_ms: AtomicI64,
    virtual_waits: AtomicBool,
}

impl ShiftedClock {
    pub fn advance(&self, by: time::Duration) {
        self.offset_ms
            .fetch_add(by.whole_milliseconds() as i64, Ordering::SeqCst);
    }

    /// Makes waits move this clock instead of taking real time (or take it again).
    pub fn set_virtual_waits(&self, on: bool) {
        self.virtual_waits.store(on, Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + time::Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }

    fn sleep(&self, d: std::time::Duration) -> Wait<'_> {
        if !self.virtual_waits.load(Ordering::SeqCst) {
            return Box::pin(tokio::time::sleep(d));
        }
        self.advance(time::Duration::try_from(d).unwrap_or(time::Duration::ZERO));
        Box::pin(tokio::task::yield_now())
    }
}
