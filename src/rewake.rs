//! Polls a connection's task again at once when it wakes itself while
//! being polled, instead of handing it back to tokio's scheduler.
//!
//! Why: a request with a body wakes its own task. The handler polls hyper's
//! `Incoming` body before hyper has read it; that signals hyper's
//! dispatcher, which is the same task. tokio treats a task woken during its
//! own poll as a yield: it goes to the back of the run queue *and another
//! worker thread is woken* (a futex or eventfd write) to come and steal it.
//! On a one-connection POST that was 1.9 futex calls per request and a
//! thread waking on the core the client needs.
//!
//! [`Rewake`] gives the task a waker of its own. A wake that arrives while
//! the task is being polled only marks it, and the task is polled again in
//! the same turn (at most [`MAX_ROUNDS`] times, then it yields to tokio as
//! before, so a busy connection cannot starve the others). A wake at any
//! other time is passed on to tokio's waker unchanged.
//!
//! Measured with `benches/load.sh` (`CASES=carerecord ROUNDS=3
//! DURATION=4`, 2 workers, the two binaries one after the other): the
//! DSTU2 care record POST at 1 connection went from 9.7 k to 12.7 k
//! requests/s (48.7 % -> 61.8 % of the bare server), at 50 connections
//! from 58.4 % to 63.7 %; futex calls from 1.88 to 0 per request
//! (`strace -c`).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use atomic_waker::AtomicWaker;

/// How many times one tokio poll may poll the task again.
pub const MAX_ROUNDS: usize = 8;

/// Not being polled: a wake goes to tokio.
const IDLE: u8 = 0;
/// Being polled, not woken yet.
const POLLING: u8 = 1;
/// Woken while being polled: poll again before returning.
const NOTIFIED: u8 = 2;

/// A future polled again in the same turn when it wakes itself.
pub struct Rewake<F> {
    inner: Pin<Box<F>>,
    shared: Arc<Shared>,
    waker: Waker,
}

struct Shared {
    state: AtomicU8,
    /// tokio's waker for the task, registered at every poll.
    task: AtomicWaker,
}

impl<F: Future> Rewake<F> {
    pub fn new(inner: F) -> Self {
        let shared = Arc::new(Shared {
            state: AtomicU8::new(IDLE),
            task: AtomicWaker::new(),
        });
        Self {
            inner: Box::pin(inner),
            waker: Waker::from(shared.clone()),
            shared,
        }
    }
}

impl<F: Future> Future for Rewake<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // `Rewake` is Unpin: the inner future is boxed.
        let this = self.get_mut();
        this.shared.task.register(cx.waker());
        let mut own = Context::from_waker(&this.waker);
        for round in 1..=MAX_ROUNDS {
            this.shared.state.store(POLLING, Ordering::Release);
            if let Poll::Ready(output) = this.inner.as_mut().poll(&mut own) {
                this.shared.state.store(IDLE, Ordering::Release);
                return Poll::Ready(output);
            }
            match this.shared.state.compare_exchange(
                POLLING,
                IDLE,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                // Nothing woke it: it waits for a wake that goes to tokio.
                Ok(_) => return Poll::Pending,
                // Woken during the poll: poll again, unless the rounds
                // are spent.
                Err(_) if round < MAX_ROUNDS => {}
                Err(_) => break,
            }
        }
        this.shared.state.store(IDLE, Ordering::Release);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Wake for Shared {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            match state {
                IDLE => {
                    self.task.wake();
                    return;
                }
                POLLING => match self.state.compare_exchange(
                    POLLING,
                    NOTIFIED,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return,
                    Err(now) => state = now,
                },
                // Already marked: the poller polls again.
                _ => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Pending `wakes` times, waking itself each time, then ready.
    struct SelfWaking {
        wakes: usize,
        polls: Arc<AtomicUsize>,
    }

    impl Future for SelfWaking {
        type Output = usize;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
            let polls = self.polls.fetch_add(1, Ordering::SeqCst) + 1;
            if self.wakes == 0 {
                return Poll::Ready(polls);
            }
            self.wakes -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    /// Counts the wakes tokio would have received.
    struct CountingWaker(AtomicUsize);
    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn outer() -> (Arc<CountingWaker>, Waker) {
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        (counter.clone(), Waker::from(counter))
    }

    #[test]
    fn a_self_wake_is_polled_again_in_the_same_turn_without_waking_tokio() {
        let polls = Arc::new(AtomicUsize::new(0));
        let mut future = Rewake::new(SelfWaking {
            wakes: 3,
            polls: polls.clone(),
        });
        let (counter, waker) = outer();
        let mut cx = Context::from_waker(&waker);
        assert_eq!(Pin::new(&mut future).poll(&mut cx), Poll::Ready(4));
        assert_eq!(counter.0.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_task_that_keeps_waking_itself_yields_to_tokio_after_the_rounds() {
        let polls = Arc::new(AtomicUsize::new(0));
        let mut future = Rewake::new(SelfWaking {
            wakes: usize::MAX,
            polls: polls.clone(),
        });
        let (counter, waker) = outer();
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut future).poll(&mut cx).is_pending());
        assert_eq!(polls.load(Ordering::SeqCst), MAX_ROUNDS);
        assert_eq!(counter.0.load(Ordering::SeqCst), 1, "yielded once");
    }

    #[test]
    fn a_wake_after_the_poll_reaches_tokio() {
        struct Parked(Option<Waker>);
        impl Future for Parked {
            type Output = ();
            fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
                if self.0.is_some() {
                    return Poll::Ready(());
                }
                self.0 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
        let mut future = Rewake::new(Parked(None));
        let (counter, waker) = outer();
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut future).poll(&mut cx).is_pending());
        assert_eq!(counter.0.load(Ordering::SeqCst), 0);
        // The waker the inner future kept, used later (as an IO event
        // would) reaches tokio's waker.
        let kept = future.inner.0.clone();
        kept.expect("the inner future kept its waker").wake();
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
    }
}
