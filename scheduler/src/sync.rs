//! The synchronisation facade: the only place lockstep's locks, atomics and threads come from.
//!
//! Normally everything is re-exported from the standard library. Under `RUSTFLAGS="--cfg loom"`
//! the same names come from loom, so loom can explore every interleaving of the code that uses
//! them. Code elsewhere in the workspace names `lockstep_scheduler::sync::Mutex`, never the
//! standard library's, so switching the whole engine to loom is one compiler flag.
//!
//! Lock poisoning is not something callers handle: a poisoned lock means a worker panicked, which
//! is a bug, and that panic surfaces where the worker's thread is joined. [`lock`], [`wait`] and
//! [`into_inner`] therefore recover the guard from a poisoned lock instead of returning an error.

#[cfg(loom)]
pub use loom::sync::{Arc, Condvar, Mutex, MutexGuard};
#[cfg(not(loom))]
pub use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use std::sync::PoisonError;

/// Process-wide one-time initialisation (LLVM's target registry, the
/// backend's version string). Not modeled by loom: nothing that runs
/// inside a loom model initialises global state.
pub use std::sync::{Once, OnceLock};

/// Atomic integers and booleans, from std or from loom.
pub mod atomic {
    #[cfg(loom)]
    pub use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    #[cfg(not(loom))]
    pub use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
}

/// Threads, from std or from loom.
///
/// Scoped threads ([`thread::scope`]) always come from std, because loom 0.7 has no scoped threads.
/// Code that runs inside a loom model must therefore use [`thread::spawn`] with [`Arc`]-shared
/// state; the engine's loom models do exactly that.
pub mod thread {
    #[cfg(loom)]
    pub use loom::thread::{spawn, yield_now, JoinHandle};
    #[cfg(not(loom))]
    pub use std::thread::{spawn, yield_now, JoinHandle};

    pub use std::thread::{scope, Scope, ScopedJoinHandle};
}

/// Locks `mutex`, recovering the guard if another thread panicked while holding it.
///
/// A poisoned lock means a worker panicked. That is a bug, and the panic is re-raised where the
/// worker is joined; the threads still running only need the data to wind down cleanly.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Consumes `mutex` and returns its data, recovering it if the lock was poisoned (see [`lock`]).
pub fn into_inner<T>(mutex: Mutex<T>) -> T {
    mutex.into_inner().unwrap_or_else(PoisonError::into_inner)
}

/// Waits on `condvar`, recovering the guard if the lock was poisoned meanwhile (see [`lock`]).
pub fn wait<'a, T>(condvar: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    condvar.wait(guard).unwrap_or_else(PoisonError::into_inner)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn lock_recovers_the_guard_of_a_poisoned_mutex() {
        let mutex = Arc::new(Mutex::new(41));
        let poisoner = Arc::clone(&mutex);
        let joined = thread::spawn(move || {
            let _guard = lock(&poisoner);
            panic!("a worker panics while holding the lock");
        })
        .join();
        assert!(joined.is_err(), "the panic must surface where the thread is joined");
        assert!(mutex.is_poisoned());
        *lock(&mutex) += 1;
        assert_eq!(*lock(&mutex), 42);
    }
}
