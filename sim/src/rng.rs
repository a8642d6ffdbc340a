//! Seeded random streams: one `ChaCha8Rng` per actor.
//!
//! A stream is derived from the run's seed and a *stable name* (the actor's name), not from
//! the order actors were created: the ChaCha key comes from the seed and the ChaCha stream
//! number from the FNV-1a hash of the name. Adding, removing or reordering actors therefore
//! never changes the numbers another actor draws — the property FoundationDB-style
//! simulators rely on to keep a seed's meaning stable as a scenario grows.

use const_fnv1a_hash::fnv1a_hash_str_64;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The RNG type every random choice in a run comes from.
pub type SimRng = ChaCha8Rng;

/// The stream for `name` under `seed`.
pub fn stream(seed: u64, name: &str) -> SimRng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(fnv1a_hash_str_64(name));
    rng
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn draw(seed: u64, name: &str) -> Vec<u32> {
        let mut r = stream(seed, name);
        (0..8).map(|_| r.random()).collect()
    }

    #[test]
    fn same_seed_and_name_same_numbers() {
        assert_eq!(draw(7, "consumer-1"), draw(7, "consumer-1"));
    }

    #[test]
    fn names_and_seeds_separate_streams() {
        assert_ne!(draw(7, "consumer-1"), draw(7, "consumer-2"));
        assert_ne!(draw(7, "consumer-1"), draw(8, "consumer-1"));
    }

    const PINNED: u32 = 710_853_539;

    #[test]
    fn known_first_draw_is_pinned() {
        // Pins the derivation itself: a change here changes every seed's meaning, which is
        // a version change of the simulator and must be deliberate.
        let first: u32 = stream(0, "broker").random();
        assert_eq!(first, PINNED, "the (seed, name) -> stream derivation changed");
    }
}
