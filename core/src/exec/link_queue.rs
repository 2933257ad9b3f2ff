//! The ordered link queue: the link stage takes results strictly in enqueue order.
//!
//! Each Link node has a position in the link order. Whoever learns a position's fate (the worker
//! that completed its last dependency, or the one whose failure skipped it) publishes a value at
//! that position; the single consumer takes positions 0, 1, 2, ... in order. If the next position
//! has not been published, the consumer waits for exactly that one: running a later position first
//! would make the link order, and so the output bytes, depend on timing.
//!
//! A producer wakes the consumer only when it publishes the position the consumer is waiting for,
//! so codegen completions that do not unblock the link stage cost it nothing. This is the protocol
//! `tests/loom.rs` checks exhaustively.

use lockstep_scheduler::sync::{self, Condvar, Mutex};

/// Slots indexed by link position, filled in any order, consumed strictly in order by one consumer.
#[derive(Debug)]
pub struct LinkQueue<T> {
    state: Mutex<LinkQueueState<T>>,
    /// Signalled when the slot the consumer waits for is filled, or the queue is closed.
    next_published: Condvar,
    /// A deliberately broken publish, compiled only for loom builds, so the loom tests can show
    /// that the model checker catches a missed wake-up.
    #[cfg(loom)]
    missed_wakeup: bool,
}

#[derive(Debug)]
struct LinkQueueState<T> {
    slots: Vec<Option<T>>,
    /// The position the consumer takes next; every earlier slot has been taken.
    next: usize,
    /// Set when the run is abandoned (a thread panicked): the consumer stops waiting.
    closed: bool,
}

/// What [`LinkQueue::try_next`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum LinkQueuePoll<T> {
    /// The next position was published: here it is, and the queue moved past it.
    Ready(usize, T),
    /// The next position has not been published yet.
    Waiting(usize),
    /// Every position was taken, or the queue was closed.
    Finished,
}

impl<T> LinkQueue<T> {
    /// A queue with `len` positions, none published.
    pub fn new(len: usize) -> LinkQueue<T> {
        LinkQueue {
            state: Mutex::new(LinkQueueState { slots: (0..len).map(|_| None).collect(), next: 0, closed: false }),
            next_published: Condvar::new(),
            #[cfg(loom)]
            missed_wakeup: false,
        }
    }

    /// A queue whose `publish` wakes the consumer *before* storing the value, in a separate
    /// critical section: the classic missed wake-up. Only loom builds have it; it exists so that
    /// `tests/loom.rs` can prove the model checker would catch that bug.
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn with_missed_wakeup_bug(len: usize) -> LinkQueue<T> {
        LinkQueue { missed_wakeup: true, ..LinkQueue::new(len) }
    }

    /// The number of positions.
    pub fn len(&self) -> usize {
        sync::lock(&self.state).slots.len()
    }

    /// Whether the queue has no position at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Publishes `value` at `position`, waking the consumer if it waits for exactly this position.
    ///
    /// # Panics
    ///
    /// If the position does not exist or was already published: each position's fate is decided
    /// exactly once, so this is a bug in the caller.
    pub fn publish(&self, position: usize, value: T) {
        #[cfg(loom)]
        if self.missed_wakeup {
            let wakes_consumer = sync::lock(&self.state).next == position;
            if wakes_consumer {
                self.next_published.notify_one();
            }
            let mut state = sync::lock(&self.state);
            state.slots[position] = Some(value);
            return;
        }
        let mut state = sync::lock(&self.state);
        assert!(
            position >= state.next && state.slots[position].is_none(),
            "link position {position} was published twice"
        );
        state.slots[position] = Some(value);
        let wakes_consumer = position == state.next;
        drop(state);
        // The value is stored before the lock is released, so a consumer that checks the slot
        // after this wake-up (or before it started waiting) sees it: no wake-up can be missed.
        if wakes_consumer {
            self.next_published.notify_one();
        }
    }

    /// Takes the next position if it has been published, without waiting.
    pub fn try_next(&self) -> LinkQueuePoll<T> {
        let mut state = sync::lock(&self.state);
        Self::poll(&mut state)
    }

    /// Waits until the next position is published and takes it; `None` once every position has
    /// been taken or the queue was closed.
    pub fn wait_next(&self) -> Option<(usize, T)> {
        let mut state = sync::lock(&self.state);
        loop {
            match Self::poll(&mut state) {
                LinkQueuePoll::Ready(position, value) => return Some((position, value)),
                LinkQueuePoll::Finished => return None,
                LinkQueuePoll::Waiting(_) => state = sync::wait(&self.next_published, state),
            }
        }
    }

    /// Abandons the queue: a waiting consumer wakes up and gets `None`. Used when a thread panics,
    /// so the link stage never waits for a result that will not come.
    pub fn close(&self) {
        sync::lock(&self.state).closed = true;
        self.next_published.notify_all();
    }

    fn poll(state: &mut LinkQueueState<T>) -> LinkQueuePoll<T> {
        if state.closed || state.next >= state.slots.len() {
            return LinkQueuePoll::Finished;
        }
        let position = state.next;
        match state.slots[position].take() {
            Some(value) => {
                state.next += 1;
                LinkQueuePoll::Ready(position, value)
            }
            None => LinkQueuePoll::Waiting(position),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn positions_come_out_in_order_whatever_the_publish_order() {
        let queue = LinkQueue::new(3);
        queue.publish(2, "c");
        assert_eq!(queue.try_next(), LinkQueuePoll::Waiting(0));
        queue.publish(0, "a");
        assert_eq!(queue.try_next(), LinkQueuePoll::Ready(0, "a"));
        assert_eq!(queue.try_next(), LinkQueuePoll::Waiting(1));
        queue.publish(1, "b");
        assert_eq!(queue.wait_next(), Some((1, "b")));
        assert_eq!(queue.wait_next(), Some((2, "c")));
        assert_eq!(queue.wait_next(), None);
    }

    #[test]
    fn closing_releases_the_consumer() {
        let queue: LinkQueue<()> = LinkQueue::new(2);
        queue.close();
        assert_eq!(queue.wait_next(), None);
    }
}
