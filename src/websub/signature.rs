//! `X-Hub-Signature`: the HMAC of a delivered body, keyed by the subscriber's secret
//! (WebSub §8). We sign with SHA-256; a hub may sign what it pushes to us with SHA-1, SHA-256,
//! SHA-384 or SHA-512, and the header names which.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha384, Sha512};

/// The header's value for `body` under `secret`: `sha256=` and the hex HMAC.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

/// Whether `header` (`method=hex`) is the HMAC of `body` under `secret`, compared in constant
/// time. An unknown method or malformed hex is no signature.
pub fn verify(secret: &str, header: &str, body: &[u8]) -> bool {
    let Some((method, signature)) = header.trim().split_once('=') else {
        return false;
    };
    let Some(signature) = unhex(signature) else {
        return false;
    };
    fn check<M: Mac + KeyInit>(secret: &str, body: &[u8], signature: &[u8]) -> bool {
        let mut mac =
            <M as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
        mac.update(body);
        mac.verify_slice(signature).is_ok()
    }
    match method.to_ascii_lowercase().as_str() {
        "sha1" => check::<Hmac<Sha1>>(secret, body, &signature),
        "sha256" => check::<Hmac<Sha256>>(secret, body, &signature),
        "sha384" => check::<Hmac<Sha384>>(secret, body, &signature),
        "sha512" => check::<Hmac<Sha512>>(secret, body, &signature),
        _ => false,
    }
}

/// `bytes` as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).ok())
        .collect()
}

/// A random token of `bytes` bytes, hex: secrets, callback tokens and challenges, from the
/// operating system's random source (never a seeded generator: they are guessed otherwise).
pub fn random_token(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).expect("the operating system gives random bytes");
    hex(&buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_and_a_changed_body_or_secret_does_not() {
        let header = sign("s3cret", b"<feed/>");
        // RFC 4231-style check against an independent value: HMAC-SHA256("key", "The quick
        // brown fox jumps over the lazy dog").
        assert_eq!(
            sign("key", b"The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
        assert!(verify("s3cret", &header, b"<feed/>"));
        assert!(!verify("s3cret", &header, b"<feed />"));
        assert!(!verify("other", &header, b"<feed/>"));
        assert!(verify(
            "key",
            "sha1=de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9",
            b"The quick brown fox jumps over the lazy dog"
        ));
        for broken in ["", "sha256", "sha256=zz", "md5=00", "sha256=abc"] {
            assert!(!verify("s3cret", broken, b"<feed/>"), "{broken:?}");
        }
    }

    #[test]
    fn random_tokens_differ() {
        let (a, b) = (random_token(16), random_token(16));
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
