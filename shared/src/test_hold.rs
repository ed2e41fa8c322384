//! (tests only: `cfg(test)` or feature `test-support`) A gate for a test peer's requests: while
//! it holds, each request that arrives waits until the test lets one through, so a test can
//! stop a refresh at the provider (a lease holder that dies, a slow provider) without sleeping.
//! The refresh path's unit-test peer and the end-to-end fault peer both use it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::{Notify, Semaphore};

#[derive(Debug)]
pub struct Hold {
    holding: AtomicBool,
    /// Requests held since `hold`.
    held: AtomicUsize,
    gate: Semaphore,
    arrived: Notify,
}

impl Default for Hold {
    fn default() -> Self {
        Self {
            holding: AtomicBool::new(false),
            held: AtomicUsize::new(0),
            gate: Semaphore::new(0),
            arrived: Notify::new(),
        }
    }
}

impl Hold {
    /// Requests from now on wait until `let_through`.
    pub fn hold(&self) {
        self.held.store(0, Ordering::SeqCst);
        self.holding.store(true, Ordering::SeqCst);
    }

    /// Waits until a request is held (since `hold`).
    pub async fn arrived(&self) {
        loop {
            let arrival = self.arrived.notified();
            tokio::pin!(arrival);
            arrival.as_mut().enable();
            if self.held.load(Ordering::SeqCst) > 0 {
                return;
            }
            arrival.await;
        }
    }

    /// Stops holding requests from now on; one already held stays held.
    pub fn stop_holding(&self) {
        self.holding.store(false, Ordering::SeqCst);
    }

    /// Lets one held request through, and stops holding.
    pub fn let_through(&self) {
        self.holding.store(false, Ordering::SeqCst);
        self.gate.add_permits(1);
    }

    /// Where a peer's handler waits, when the gate holds.
    pub async fn pass(&self) {
        if self.holding.load(Ordering::SeqCst) {
            self.held.fetch_add(1, Ordering::SeqCst);
            self.arrived.notify_waiters();
            self.gate.acquire().await.unwrap().forget();
        }
    }
}
