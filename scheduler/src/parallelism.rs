//! How many codegen workers run at once, and the jobserver token discipline that bounds them.
//!
//! The discipline follows rustc's codegen coordinator. The process owns one implicit token: the
//! one `make` or `cargo` spent on starting it. Worker 0 always runs under that implicit token.
//! Every *extra* worker that runs concurrently must hold a token acquired from the jobserver while
//! it works, and releases it as soon as it is idle, so a build nested inside `make -jN` or a
//! `cargo` build never uses more than its share of the machine.
//!
//! The link stage runs on the calling thread and shares the implicit token with worker 0. Linking
//! is short and mostly waits for codegen results; giving it its own token would deadlock under
//! `make -j1`, where the jobserver has no tokens to hand out at all.

use std::io;
use std::num::NonZeroUsize;

use jobserver::{Acquired, Client};

/// The worker count and the jobserver (if any) that gates extra workers.
#[derive(Clone, Debug)]
pub struct Parallelism {
    /// The number of codegen workers to start; at least 1.
    pub workers: usize,
    /// The jobserver extra workers take tokens from, or `None` to run `workers` freely.
    pub jobserver: Option<Client>,
}

impl Parallelism {
    /// `workers` workers (at least 1) and no jobserver.
    pub fn fixed(workers: usize) -> Parallelism {
        Parallelism { workers: workers.max(1), jobserver: None }
    }

    /// `workers` workers gated by a fresh private jobserver holding `extra_tokens` tokens, so at most
    /// `extra_tokens + 1` workers run at once. Useful to cap a build's parallelism, and in tests.
    pub fn with_token_limit(workers: usize, extra_tokens: usize) -> io::Result<Parallelism> {
        Ok(Parallelism { workers: workers.max(1), jobserver: Some(Client::new(extra_tokens)?) })
    }

    /// `-j N` if `requested_jobs` is `Some(N)` with `N > 0`, else the machine's available
    /// parallelism; never a jobserver (for library callers, which must not adopt inherited file
    /// descriptors).
    pub fn local(requested_jobs: Option<usize>) -> Parallelism {
        Parallelism::fixed(worker_count(requested_jobs))
    }

    /// The parallelism for this process: `-j N` if `requested_jobs` is `Some(N)` with `N > 0`, else
    /// the machine's available parallelism; plus the jobserver offered by the parent `make` or
    /// `cargo` in `CARGO_MAKEFLAGS` / `MAKEFLAGS` / `MFLAGS`, if there is one.
    ///
    /// The binary calls this once at startup, before it opens any file: the jobserver arrives as
    /// inherited file descriptor numbers, and they are only trustworthy while nothing else has had a
    /// chance to reuse those numbers.
    pub fn from_env(requested_jobs: Option<usize>) -> Parallelism {
        Parallelism { workers: worker_count(requested_jobs), jobserver: connect_to_inherited_jobserver() }
    }

    /// The gate the executor's workers take their tokens from.
    pub fn token_gate(&self) -> TokenGate {
        TokenGate { jobserver: self.jobserver.clone() }
    }
}

/// `-j N` if `N > 0` was requested, else the machine's available parallelism (at least 1).
fn worker_count(requested_jobs: Option<usize>) -> usize {
    requested_jobs
        .filter(|&jobs| jobs > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, NonZeroUsize::get))
}

/// Connects to the jobserver named in the environment, if any.
#[allow(unsafe_code)]
fn connect_to_inherited_jobserver() -> Option<Client> {
    // SAFETY: `Client::from_env` takes ownership of the file descriptors named in MAKEFLAGS. That
    // is only sound if those descriptors really are the jobserver pipe inherited from our parent
    // and not descriptors this process opened itself and that happen to reuse the numbers. The
    // binary calls `Parallelism::from_env` at startup, before it opens any file, which is exactly
    // the jobserver crate's documented requirement; the library never calls it on its own.
    unsafe { Client::from_env() }
}

/// Hands out jobserver tokens to the executor's workers.
#[derive(Clone, Debug)]
pub struct TokenGate {
    jobserver: Option<Client>,
}

impl TokenGate {
    /// A gate that never blocks: every worker runs freely.
    pub fn unlimited() -> TokenGate {
        TokenGate { jobserver: None }
    }

    /// The token worker `index` must hold while it runs one work item; drop it when the item is done.
    ///
    /// Returns `None` for worker 0 (it runs under the process's implicit token) and when there is
    /// no jobserver. Otherwise this blocks until the jobserver grants a token. If the jobserver
    /// itself fails (its pipe was closed under us), the worker proceeds without a token: a broken
    /// jobserver may oversubscribe the machine, but it must never hang or fail the build.
    pub fn acquire_for_worker(&self, index: usize) -> Option<Token> {
        if index == 0 {
            return None;
        }
        let acquired = self.jobserver.as_ref()?.acquire().ok()?;
        Some(Token { _acquired: acquired })
    }
}

/// A jobserver token held by a running extra worker; dropping it gives the token back.
#[derive(Debug)]
pub struct Token {
    _acquired: Acquired,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requested_jobs_win_over_the_machine_size() {
        // `from_env` itself is not called here: it would adopt whatever file descriptors the test
        // runner's environment names, long after this process opened files of its own.
        assert_eq!(worker_count(Some(3)), 3);
        assert_eq!(worker_count(Some(0)), worker_count(None));
        assert!(worker_count(None) >= 1);
        assert_eq!(Parallelism::fixed(0).workers, 1);
    }

    #[test]
    fn worker_zero_and_ungated_workers_need_no_token() {
        let gate = Parallelism::fixed(4).token_gate();
        assert!(gate.acquire_for_worker(0).is_none());
        assert!(gate.acquire_for_worker(3).is_none());
        assert!(TokenGate::unlimited().acquire_for_worker(1).is_none());
    }

    #[test]
    fn extra_workers_hold_a_token_while_they_work() {
        let parallelism = Parallelism::with_token_limit(4, 2).expect("a private jobserver can be created");
        let client = parallelism.jobserver.clone().expect("the private jobserver is set");
        let gate = parallelism.token_gate();
        assert!(gate.acquire_for_worker(0).is_none(), "worker 0 runs under the implicit token");
        assert_eq!(client.available().unwrap(), 2);
        let first = gate.acquire_for_worker(1).expect("a token is free");
        let second = gate.acquire_for_worker(2).expect("a token is free");
        assert_eq!(client.available().unwrap(), 0);
        drop(first);
        assert_eq!(client.available().unwrap(), 1, "an idle worker gives its token back");
        drop(second);
        assert_eq!(client.available().unwrap(), 2);
    }
}
