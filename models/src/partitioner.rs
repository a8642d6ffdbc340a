//! Producer partitioners: which partition a record goes to.
//!
//! Reproduces, bit for bit:
//! * the Java client's keyed path (`BuiltInPartitioner.partitionForKey`, Kafka ≥ 3.3, and the
//!   older `DefaultPartitioner`): `toPositive(murmur2(key)) % numPartitions`, with Kafka's
//!   murmur2 (seed `0x9747b28c`) from `org.apache.kafka.common.utils.Utils`; kafka-python's
//!   `DefaultPartitioner` uses the same formula;
//! * librdkafka's `consistent` (CRC32/IEEE of the key, as zlib computes it), `murmur2`
//!   (same as Java) and `fnv1a` (32-bit FNV-1a with librdkafka's Sarama-compatible absolute
//!   value), and their `_random` variants, which send a null key to a random partition.
//!
//! Null-key strategies (random per record, Java's uniform sticky of KIP-794, librdkafka's
//! sticky linger) need the producer's state and RNG, so they live in [`crate::producer`]; the
//! functions here are pure.

use serde::{Deserialize, Serialize};

/// Kafka's murmur2 of `data`, as the Java `Utils.murmur2` returns it (a signed 32-bit int).
pub fn murmur2(data: &[u8]) -> i32 {
    murmur2::murmur2(data, murmur2::KAFKA_SEED) as i32
}

/// Java's `Utils.toPositive`: clears the sign bit (not `abs`).
pub fn to_positive(n: i32) -> u32 {
    (n & 0x7fff_ffff) as u32
}

/// CRC32 (IEEE 802.3, as zlib and librdkafka's `rd_crc32`).
pub fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

/// librdkafka's `rd_fnv1a`: 32-bit FNV-1a, then the absolute value of it read as a signed
/// int (matching Sarama's hash partitioner); `i32::MIN` stays `0x8000_0000`.
pub fn fnv1a(data: &[u8]) -> u32 {
    let h = const_fnv1a_hash::fnv1a_hash_32(data, None) as i32;
    h.wrapping_abs() as u32
}

/// A keyed partitioning function, by the name clients use for it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyHash {
    /// Java / kafka-python default; librdkafka `murmur2` and `murmur2_random`.
    Murmur2,
    /// librdkafka `consistent` and `consistent_random` (its default).
    Consistent,
    /// librdkafka `fnv1a` and `fnv1a_random`.
    Fnv1a,
}

impl KeyHash {
    /// Every keyed hash, for listings.
    pub const ALL: [KeyHash; 3] = [KeyHash::Murmur2, KeyHash::Consistent, KeyHash::Fnv1a];

    /// The partition for a non-null `key` among `partitions` (> 0).
    pub fn partition(self, key: &[u8], partitions: u32) -> u32 {
        assert!(partitions > 0, "a topic has at least one partition");
        match self {
            KeyHash::Murmur2 => to_positive(murmur2(key)) % partitions,
            KeyHash::Consistent => crc32(key) % partitions,
            KeyHash::Fnv1a => fnv1a(key) % partitions,
        }
    }

    /// The name librdkafka's `partitioner` setting uses for the deterministic variant.
    pub fn name(self) -> &'static str {
        match self {
            KeyHash::Murmur2 => "murmur2",
            KeyHash::Consistent => "consistent",
            KeyHash::Fnv1a => "fnv1a",
        }
    }

    /// Parses `murmur2`, `consistent`/`crc32`, `fnv1a`.
    pub fn parse(s: &str) -> Option<KeyHash> {
        match s {
            "murmur2" => Some(KeyHash::Murmur2),
            "consistent" | "crc32" => Some(KeyHash::Consistent),
            "fnv1a" => Some(KeyHash::Fnv1a),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Apache Kafka's `UtilsTest.testMurmur2` vectors.
    #[test]
    fn murmur2_matches_kafka_utils_test() {
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
            (b"abc", 479_470_107),
        ];
        for (key, want) in cases {
            assert_eq!(murmur2(key), want, "{}", String::from_utf8_lossy(key));
        }
    }

    /// kafka-python's `test_murmur2_java_compatibility`: partitions out of 1000, taken from
    /// the Java client — covers the empty key and every tail length (0–3 trailing bytes).
    #[test]
    fn murmur2_partition_matches_java_over_1000() {
        let cases: [(&[u8], u32); 6] = [
            (b"", 681),
            (b"a", 524),
            (b"ab", 434),
            (b"abc", 107),
            (b"123456789", 566),
            (b"\x00 ", 742),
        ];
        for (key, want) in cases {
            assert_eq!(KeyHash::Murmur2.partition(key, 1000), want, "{key:?}");
        }
    }

    /// The seed document's placements: msg1..msg5 on 2 and on 4 partitions.
    #[test]
    fn seed_document_keys() {
        let keys = ["msg1_key", "msg2_key", "msg3_key", "msg4_key", "msg5_key"];
        let p2: Vec<u32> = keys
            .iter()
            .map(|k| KeyHash::Murmur2.partition(k.as_bytes(), 2))
            .collect();
        let p4: Vec<u32> = keys
            .iter()
            .map(|k| KeyHash::Murmur2.partition(k.as_bytes(), 4))
            .collect();
        assert_eq!(p2, [1, 0, 1, 0, 1]);
        assert_eq!(p4, [1, 0, 1, 0, 3]);
        for k in keys {
            assert_eq!(KeyHash::Murmur2.partition(k.as_bytes(), 1), 0);
        }
    }

    /// toPositive is a mask, not abs: abs(i32::MIN) would overflow.
    #[test]
    fn to_positive_masks_the_sign_bit() {
        assert_eq!(to_positive(-1), 0x7fff_ffff);
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(-790_332_482), 1_357_151_166);
    }

    /// CRC32/IEEE check value and zlib vectors (librdkafka's `consistent`).
    #[test]
    fn crc32_vectors() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"a"), 0xE8B7_BE43);
        assert_eq!(crc32(b"The quick brown fox jumps over the lazy dog"), 0x414F_A339);
        assert_eq!(KeyHash::Consistent.partition(b"123456789", 10), 0xCBF4_3926 % 10);
    }

    /// librdkafka's `unittest_fnv1a` vectors (Go's hash/fnv, then abs as a signed int).
    #[test]
    fn fnv1a_matches_librdkafka() {
        let cases: [(&[u8], u32); 11] = [
            (b"kafka", 0x0d33_c4e1),
            (b"giberish123456789", 0x77a5_8295),
            (b"1234", 0x023b_dd03),
            (b"234", 0x2dea_3cd2),
            (b"34", 0x740f_a83e),
            (b"4", 0x310c_a263),
            (b"PreAmbleWillBeRemoved,ThePrePartThatIs", 0x65cb_d69c),
            (b"reAmbleWillBeRemoved,ThePrePartThatIs", 0x6e49_c79a),
            (b"eAmbleWillBeRemoved,ThePrePartThatIs", 0x69ee_d356),
            (b"AmbleWillBeRemoved,ThePrePartThatIs", 0x6abc_c023),
            (b"", 0x7ee3_623b),
        ];
        for (key, want) in cases {
            assert_eq!(fnv1a(key), want, "{}", String::from_utf8_lossy(key));
        }
    }

    #[test]
    fn names_round_trip() {
        for h in KeyHash::ALL {
            assert_eq!(KeyHash::parse(h.name()), Some(h));
        }
        assert_eq!(KeyHash::parse("crc32"), Some(KeyHash::Consistent));
        assert_eq!(KeyHash::parse("md5"), None);
    }
}
