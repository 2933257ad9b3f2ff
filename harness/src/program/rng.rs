//! The generator's randomness, fixed forever per seed so a seed names the same program on every machine.

/// The generator's randomness: the scheduler's SplitMix64 (one
/// implementation in the workspace), plus the drawing helpers the generator
/// needs. Its output for a seed is fixed forever, which makes seeds portable.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    inner: lockstep_scheduler::fuzz::SplitMix64,
}

impl SplitMix64 {
    /// Creates a generator; every seed (including 0) gives a good sequence.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { inner: lockstep_scheduler::fuzz::SplitMix64::new(seed) }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// A uniform value in `0..n` (`n > 0`), by the multiply-high method so that no platform detail matters.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0) has no values");
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A uniform value in `lo..=hi`; an empty range yields `lo`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below(hi - lo + 1)
    }

    /// A uniform `usize` in `lo..=hi`; an empty range yields `lo`.
    pub fn range_usize(&mut self, lo: usize, hi: usize) -> usize {
        self.range(lo as u64, hi as u64) as usize
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// Picks one element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}
