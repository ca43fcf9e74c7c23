//! Compression of rendered documents, done at most once per rendering (at the first request
//! for that encoding), so that serving a compressed feed is a memory copy like serving a plain
//! one.

use std::io::Write;

/// Brotli quality: 9 of 11 keeps a render of a large feed in milliseconds.
const BROTLI_QUALITY: u32 = 9;
const BROTLI_WINDOW: u32 = 22;

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder
        .write_all(bytes)
        .expect("writing into memory cannot fail");
    encoder.finish().expect("writing into memory cannot fail")
}

pub fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut compressed = Vec::new();
    {
        let mut encoder =
            brotli::CompressorWriter::new(&mut compressed, 4096, BROTLI_QUALITY, BROTLI_WINDOW);
        encoder
            .write_all(bytes)
            .expect("writing into memory cannot fail");
    }
    compressed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn both_round_trip() {
        let text = "<feed>".repeat(1000);
        let mut back = String::new();
        flate2::read::GzDecoder::new(&gzip(text.as_bytes())[..])
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, text);
        let mut back = String::new();
        brotli::Decompressor::new(&brotli(text.as_bytes())[..], 4096)
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, text);
    }
}
