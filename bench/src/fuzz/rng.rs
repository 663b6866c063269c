//! A small seeded generator (SplitMix64): the same seed gives the same cases on every machine and
//! every version, which a general-purpose generator does not promise.

pub struct Rng(u64);

impl Rng {
    /// The generator of one connection of a run: independent of the order connections run in.
    pub fn for_connection(seed: u64, connection: u64) -> Self {
        let mut mixer = Self(seed ^ connection.wrapping_mul(0xA076_1D64_78BD_642F));
        Self(mixer.next_u64())
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % n as u64).expect("below n")
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: usize, high: usize) -> usize {
        low + self.below(high - low + 1)
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// `low` to `high` characters from everywhere: ASCII, controls, quotes and backslashes, the
    /// invisible and right-to-left characters validation cares about, astral planes.
    pub fn text(&mut self, low: usize, high: usize) -> String {
        let len = self.between(low, high);
        const AWKWARD: &[char] = &[
            '"',
            '\\',
            '\0',
            '\u{1e}',
            '\n',
            '\u{7f}',
            '\u{200b}',
            '\u{202e}',
            '\u{feff}',
            'é',
            '字',
            '😀',
            '\u{10ffff}',
        ];
        (0..len)
            .map(|_| match self.below(4) {
                0 => *self.pick(AWKWARD),
                1 => char::from_u32(u32::try_from(self.below(0x11_0000)).expect("below"))
                    .unwrap_or('?'),
                _ => char::from(b' ' + u8::try_from(self.below(95)).expect("ascii")),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_numbers() {
        let [mut a, mut b] = [Rng::for_connection(7, 3), Rng::for_connection(7, 3)];
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(
            Rng::for_connection(7, 3).next_u64(),
            Rng::for_connection(7, 4).next_u64()
        );
    }

    #[test]
    fn bounds_hold() {
        let mut rng = Rng::for_connection(1, 0);
        for _ in 0..1_000 {
            assert!(rng.below(3) < 3);
            assert!((5..=9).contains(&rng.between(5, 9)));
        }
    }
}
