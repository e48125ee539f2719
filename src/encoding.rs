//! `Content-Encoding` both ways on the request path: request bodies sent
//! gzip, deflate (zlib) or br are decoded, within the body limit, before
//! anything reads them; answers of [`COMPRESS_ABOVE_BYTES`] or more are
//! compressed in the best coding the client's `Accept-Encoding` accepts.
//!
//! Done here, on the bytes the request path already holds, rather than by
//! tower-http's layers around every response: the layers cost the
//! metadata read at 50 connections 49–57 % → 62–72 % of the bare server's
//! requests/s (`benches/load.sh`, two alternating runs each), though a
//! request without `Accept-Encoding` needs none of their work. The admin
//! API keeps the layers (its answers are few and large).

use std::io::{Read, Write};

use bytes::Bytes;
use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, VARY};
use http::{HeaderMap, HeaderValue};

/// Answers smaller than this are sent uncompressed.
pub const COMPRESS_ABOVE_BYTES: u16 = 1024;

/// A content coding the mock reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    Deflate,
    Brotli,
}

impl Coding {
    fn token(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Deflate => "deflate",
            Self::Brotli => "br",
        }
    }

    fn parse(token: &str) -> Option<Self> {
        match token.trim().to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => Some(Self::Gzip),
            "deflate" => Some(Self::Deflate),
            "br" => Some(Self::Brotli),
            _ => None,
        }
    }
}

/// Why a request body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("the request body is larger than {0} bytes once decoded")]
    TooLarge(usize),
    #[error("Content-Encoding {0:?} is not supported (gzip, deflate, br and identity are)")]
    Unsupported(String),
    #[error("the {coding} request body cannot be decoded: {source}")]
    Corrupt {
        coding: &'static str,
        source: std::io::Error,
    },
}

/// The request body with its `Content-Encoding` undone (the header is
/// removed then), decoding at most `limit` bytes.
pub fn decode_request(
    headers: &mut HeaderMap,
    body: Bytes,
    limit: usize,
) -> Result<Bytes, DecodeError> {
    let Some(value) = headers.get(CONTENT_ENCODING) else {
        return Ok(body);
    };
    let text = value.to_str().unwrap_or("").to_string();
    let mut body = body;
    // Codings are listed in the order applied: undo them last first.
    for token in text.split(',').rev() {
        let token = token.trim();
        if token.is_empty() || token.eq_ignore_ascii_case("identity") {
            continue;
        }
        let coding =
            Coding::parse(token).ok_or_else(|| DecodeError::Unsupported(token.to_string()))?;
        body = decode(coding, &body, limit)?;
    }
    headers.remove(CONTENT_ENCODING);
    headers.remove(CONTENT_LENGTH);
    Ok(body)
}

fn decode(coding: Coding, data: &[u8], limit: usize) -> Result<Bytes, DecodeError> {
    let reader: Box<dyn Read + '_> = match coding {
        Coding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(data)),
        Coding::Deflate => Box::new(flate2::read::ZlibDecoder::new(data)),
        Coding::Brotli => Box::new(brotli::Decompressor::new(data, 4096)),
    };
    let mut out = Vec::new();
    // One byte over the limit tells "too large" from "exactly the limit".
    let read = reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|source| DecodeError::Corrupt {
            coding: coding.token(),
            source,
        })?;
    if read > limit {
        return Err(DecodeError::TooLarge(limit));
    }
    Ok(Bytes::from(out))
}

/// The coding to answer in: the acceptable one (q > 0) with the highest
/// q, preferring br, then gzip, then deflate at equal q. `*` stands for
/// any coding not named.
pub fn choose(request: &HeaderMap) -> Option<Coding> {
    let mut best: Option<(Coding, u16)> = None;
    let mut named = [false; 3];
    let mut any: Option<u16> = None;
    let rank = |coding: Coding| match coding {
        Coding::Brotli => 0,
        Coding::Gzip => 1,
        Coding::Deflate => 2,
    };
    let consider = |coding: Coding, q: u16, best: &mut Option<(Coding, u16)>| {
        if q == 0 {
            return;
        }
        let better = match best {
            None => true,
            Some((current, current_q)) => {
                q > *current_q || (q == *current_q && rank(coding) < rank(*current))
            }
        };
        if better {
            *best = Some((coding, q));
        }
    };
    for value in request.get_all(ACCEPT_ENCODING) {
        let Ok(text) = value.to_str() else {
            continue;
        };
        for item in text.split(',') {
            let mut parts = item.split(';');
            let token = parts.next().unwrap_or("").trim();
            let q = parts
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .or_else(|| p.trim().strip_prefix("Q="))
                })
                .map_or(1000, parse_q);
            if token == "*" {
                any = Some(q);
            } else if let Some(coding) = Coding::parse(token) {
                named[rank(coding)] = true;
                consider(coding, q, &mut best);
            }
        }
    }
    if let Some(q) = any {
        for coding in [Coding::Brotli, Coding::Gzip, Coding::Deflate] {
            if !named[rank(coding)] {
                consider(coding, q, &mut best);
            }
        }
    }
    best.map(|(coding, _)| coding)
}

/// A q-value in thousandths (`0.5` → 500); malformed → 0 (not acceptable).
fn parse_q(text: &str) -> u16 {
    let value: f32 = text.trim().parse().unwrap_or(0.0);
    if (0.0..=1.0).contains(&value) {
        (value * 1000.0).round() as u16
    } else {
        0
    }
}

/// Compresses `body` in place of the answer's when the client accepts a
/// coding, the body is large enough and not already encoded; `Vary:
/// accept-encoding` is set on every answer that could have been.
pub fn encode_answer(request: &HeaderMap, headers: &mut HeaderMap, body: &mut Bytes) {
    if body.len() < usize::from(COMPRESS_ABOVE_BYTES) || headers.contains_key(CONTENT_ENCODING) {
        return;
    }
    let compressible = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_none_or(|media| !media.starts_with("image/") && !media.contains("octet-stream"));
    if !compressible {
        return;
    }
    headers.append(VARY, HeaderValue::from_static("accept-encoding"));
    let Some(coding) = choose(request) else {
        return;
    };
    let Ok(encoded) = encode(coding, body) else {
        return; // writing into memory does not fail; if it did, send it plain
    };
    *body = Bytes::from(encoded);
    headers.insert(CONTENT_ENCODING, HeaderValue::from_static(coding.token()));
    headers.remove(CONTENT_LENGTH);
}

fn encode(coding: Coding, data: &[u8]) -> std::io::Result<Vec<u8>> {
    let out = Vec::with_capacity(data.len() / 4 + 64);
    match coding {
        Coding::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
            encoder.write_all(data)?;
            encoder.finish()
        }
        Coding::Deflate => {
            let mut encoder = flate2::write::ZlibEncoder::new(out, flate2::Compression::fast());
            encoder.write_all(data)?;
            encoder.finish()
        }
        Coding::Brotli => {
            let mut encoder = brotli::CompressorWriter::new(out, 4096, 4, 22);
            encoder.write_all(data)?;
            encoder.flush()?;
            Ok(encoder.into_inner())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT_ENCODING,
            HeaderValue::from_str(value).expect("valid"),
        );
        headers
    }

    #[test]
    fn the_best_acceptable_coding_is_chosen() {
        assert_eq!(choose(&HeaderMap::new()), None);
        assert_eq!(choose(&accept("gzip")), Some(Coding::Gzip));
        assert_eq!(choose(&accept("gzip, deflate, br")), Some(Coding::Brotli));
        assert_eq!(choose(&accept("br;q=0.5, gzip")), Some(Coding::Gzip));
        assert_eq!(choose(&accept("gzip;q=0, identity")), None);
        assert_eq!(choose(&accept("*")), Some(Coding::Brotli));
        assert_eq!(choose(&accept("br;q=0, *;q=0.3")), Some(Coding::Gzip));
        assert_eq!(choose(&accept("compress")), None);
    }

    #[test]
    fn every_coding_round_trips_and_the_limit_holds() {
        let data = "{\"resourceType\":\"Bundle\"}".repeat(200);
        for coding in [Coding::Gzip, Coding::Deflate, Coding::Brotli] {
            let encoded = encode(coding, data.as_bytes()).expect("encodes");
            assert!(encoded.len() < data.len() / 4, "{coding:?}");
            let decoded = decode(coding, &encoded, data.len()).expect("decodes");
            assert_eq!(decoded, data.as_bytes(), "{coding:?}");
            assert!(matches!(
                decode(coding, &encoded, data.len() - 1),
                Err(DecodeError::TooLarge(_))
            ));
        }
        assert!(matches!(
            decode(Coding::Gzip, b"not gzip", 100),
            Err(DecodeError::Corrupt { .. })
        ));
    }

    #[test]
    fn small_or_encoded_answers_are_left_alone() {
        let request = accept("gzip");
        let mut headers = HeaderMap::new();
        let mut small = Bytes::from_static(b"{}");
        encode_answer(&request, &mut headers, &mut small);
        assert_eq!(small, Bytes::from_static(b"{}"));
        assert!(headers.is_empty());
        let big = "x".repeat(usize::from(COMPRESS_ABOVE_BYTES) * 2);
        let mut body = Bytes::from(big.clone());
        encode_answer(&request, &mut headers, &mut body);
        assert_eq!(headers[CONTENT_ENCODING], "gzip");
        assert_eq!(headers[VARY], "accept-encoding");
        let mut plain = HeaderMap::new();
        let mut decoded = decode_request(&mut headers, body, big.len()).expect("decodes");
        assert_eq!(decoded, big.as_bytes());
        assert!(!headers.contains_key(CONTENT_ENCODING));
        encode_answer(&HeaderMap::new(), &mut plain, &mut decoded);
        assert_eq!(plain[VARY], "accept-encoding");
        assert_eq!(decoded.len(), big.len());
    }
}
