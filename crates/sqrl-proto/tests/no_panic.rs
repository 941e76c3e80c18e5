//! Every parser returns a value — `Ok` or an `Error` — for any input: truncated at every byte,
//! mutated byte by byte, with special characters inserted, oversized, or not UTF-8. A
//! deterministic generator keeps failures reproducible.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sqrl_proto::{
    b64, Ask, ClientParams, Limits, NameValueList, RequestBody, ServerEcho, ServerParams, SqrlUrl,
    Tif, VersionSet,
};

/// xorshift64*: small, deterministic, good enough to spread mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const SPECIAL: &[u8] = b"=&?#/\\:@[]%~;\r\n\0 +-_.\xff\xc3\xa9";

fn every_parser(bytes: &[u8]) {
    let _ = RequestBody::parse(bytes);
    let _ = NameValueList::parse_bytes(bytes, Limits::DEFAULT);
    let text = String::from_utf8_lossy(bytes);
    let _ = SqrlUrl::parse(&text);
    let _ = ClientParams::decode(&text);
    let _ = ServerParams::decode(&text);
    let _ = ServerEcho::decode(&text);
    let _ = Ask::parse(&text);
    let _ = VersionSet::parse(&text);
    let _ = Tif::parse_hex(&text);
    let _ = b64::decode(&text);
    let _ = b64::decode_lenient(&text);
    let _ = b64::decode_array::<32>(&text, "x");
    let _ = NameValueList::decode(&text, Limits::DEFAULT);
    if let Ok(url) = SqrlUrl::parse(&text) {
        let _ = (
            url.auth_domain(),
            url.request_url(),
            url.request_url_for(&text),
        );
    }
    if let Ok(body) = RequestBody::parse(bytes) {
        if let Ok(params) = body.client() {
            let _ = body.verify_identity_signatures(&params);
            let _ = body.verify_unlock_signature(&params.idk);
        }
        let _ = body.server();
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let client = "ver=1\r\ncmd=ident\r\nidk=2jgB-cR-EnlYglPdGToOucKYI6CD6sUqf4k9MtkuiXs\r\npidk=2jgB-cR-EnlYglPdGToOucKYI6CD6sUqf4k9MtkuiXs\r\nbtn=1\r\nopt=cps~suk\r\n";
    let server = "ver=1\r\nnut=1WM9lfF1ST-z\r\ntif=5\r\nqry=/cli.sqrl?nut=1WM9lfF1ST-z\r\nsuk=BMFDm7bPlsQojuJsoDTvlS1McnwgScvktF84vLjscGk\r\nask=VHdv~QnV0dG9uIDE;/url1~QnV0dG9uIDI\r\nurl=https://sqrl.grc.com/a?b\r\n";
    let body = format!(
        "client={}&server={}&ids={}&pids={}&urs={}",
        b64::encode(client),
        b64::encode(server),
        b64::encode([1u8; 64]),
        b64::encode([2u8; 64]),
        b64::encode([3u8; 64])
    );
    vec![
        b"sqrl://steve:badpass@SQRL.grc.com:8080/demo/cli.sqrl?x=5&nut=oOB4QOFJux5Z&can=aHR0cHM6Ly9zcXJsLmdyYy5jb20v".to_vec(),
        "sqrl://[::1]:25519/Bücher?nut=a".as_bytes().to_vec(),
        client.as_bytes().to_vec(),
        server.as_bytes().to_vec(),
        b64::encode(client).into_bytes(),
        b64::encode(server).into_bytes(),
        body.into_bytes(),
        b"1,3-5".to_vec(),
        b"0c5".to_vec(),
    ]
}

#[test]
fn truncations_never_panic() {
    for seed in seeds() {
        for end in 0..=seed.len() {
            every_parser(&seed[..end]);
            every_parser(&seed[end..]);
        }
    }
}

#[test]
fn mutations_never_panic() {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    for seed in seeds() {
        for _ in 0..3000 {
            let mut input = seed.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(input.len() + 1);
                match rng.below(4) {
                    0 if at < input.len() => input[at] = rng.next() as u8,
                    1 if at < input.len() => {
                        input.remove(at);
                    }
                    _ => input.insert(at, SPECIAL[rng.below(SPECIAL.len())]),
                }
            }
            every_parser(&input);
        }
    }
}

#[test]
fn oversized_and_binary_inputs_are_errors() {
    let huge = vec![b'A'; 1 << 20];
    assert!(RequestBody::parse(&huge).is_err());
    assert!(SqrlUrl::parse(std::str::from_utf8(&huge).unwrap()).is_err());
    assert!(ClientParams::decode(std::str::from_utf8(&huge).unwrap()).is_err());
    assert!(ServerParams::decode(std::str::from_utf8(&huge).unwrap()).is_err());
    assert!(ServerEcho::decode(std::str::from_utf8(&huge).unwrap()).is_err());
    let binary: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    every_parser(&binary);
    assert!(RequestBody::parse(&binary).is_err());
    assert!(NameValueList::parse_bytes(&binary, Limits::DEFAULT).is_err());
}
