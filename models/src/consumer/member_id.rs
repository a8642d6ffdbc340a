//! The member id a KIP-848 consumer generates for itself (KIP-1082): Java's
//! `Uuid.randomUuid().toString()` — a version-4 random UUID, its 16 bytes in URL-safe base64
//! without padding (22 characters), drawn again if it would start with `-`.

use crate::types::MemberId;
use rand::RngCore;

const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A new member id from `rng` (the consumer's own seeded stream).
pub fn random_member_id(rng: &mut impl RngCore) -> MemberId {
    loop {
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        // java.util.UUID.randomUUID: version 4, IETF variant
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let id = base64_url_no_pad(&bytes);
        if !id.starts_with('-') {
            return id.into();
        }
    }
}

/// `Base64.getUrlEncoder().withoutPadding()`.
fn base64_url_no_pad(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let six = (n >> (18 - 6 * i)) & 0x3f;
            out.push(URL_SAFE[six as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Java: `new Uuid(0x0123456789abcdefL, 0xfedcba9876543210L).toString()`.
    #[test]
    fn encodes_as_java_does() {
        let bytes = [
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
        ];
        assert_eq!(base64_url_no_pad(&bytes), "ASNFZ4mrze_-3LqYdlQyEA");
        assert_eq!(base64_url_no_pad(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn random_ids_are_22_url_safe_characters_and_seeded() {
        let mut a = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut b = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let ids: Vec<MemberId> = (0..200).map(|_| random_member_id(&mut a)).collect();
        for id in &ids {
            assert_eq!(id.len(), 22, "{id}");
            assert!(!id.starts_with('-'));
            assert!(id.bytes().all(|c| URL_SAFE.contains(&c)), "{id}");
        }
        assert_eq!(ids[0], random_member_id(&mut b));
        assert_ne!(ids[0], ids[1]);
    }
}
