//! Costs of the key hierarchy and the wire-format signature path, beside raw ed25519-dalek in
//! the same run. After criterion's own report, a ratio table (interleaved rounds, median of
//! rounds) expresses every operation relative to raw `verify_strict`, because absolute times
//! on shared machines are noisy.
//!
//! `cargo bench -p sqrl-client --bench keys`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use ed25519_dalek::{Signer, SigningKey, Verifier};
use sqrl_client::keys::{enhash, enscrypt, Imk, Iuk, Rlk};
use sqrl_proto::{b64, signing_input, verify_signature, ClientParams, Command, RequestBody};

struct Fixture {
    imk: Imk,
    raw: SigningKey,
    message: Vec<u8>,
    signature: ed25519_dalek::Signature,
    body: String,
}

fn fixture() -> Fixture {
    let imk = Imk::from_bytes([3; 32]);
    let site = imk.site_key("example.com", "");
    let mut params = ClientParams::new(Command::Query, site.public_key());
    params.opt.suk = true;
    let client = params.encode().unwrap();
    let server = b64::encode("sqrl://example.com/sqrl?nut=oOB4QOFJux5Z");
    let message = signing_input(&client, &server);
    let ids = site.sign(&message);
    let raw = SigningKey::from_bytes(imk.site_seed("example.com", "").expose());
    Fixture {
        signature: ed25519_dalek::Signature::from_bytes(&ids),
        body: RequestBody::new(client, server, &ids, None, None).encode(),
        imk,
        raw,
        message,
    }
}

type Op<'a> = (&'static str, Box<dyn Fn() + 'a>);

fn operations(f: &Fixture) -> Vec<Op<'_>> {
    let vk = f.raw.verifying_key();
    vec![
        (
            "raw ed25519-dalek verify_strict",
            Box::new(move || {
                vk.verify_strict(black_box(&f.message), &f.signature)
                    .unwrap()
            }),
        ),
        (
            "raw ed25519-dalek verify",
            Box::new(move || vk.verify(black_box(&f.message), &f.signature).unwrap()),
        ),
        (
            "raw ed25519-dalek sign",
            Box::new(|| {
                black_box(f.raw.sign(black_box(&f.message)));
            }),
        ),
        (
            "sqrl-proto verify_signature",
            Box::new(|| {
                let idk = sqrl_proto::Bytes32(f.raw.verifying_key().to_bytes());
                verify_signature(
                    &idk,
                    "idk",
                    black_box(&f.message),
                    &f.signature.to_bytes(),
                    "ids",
                )
                .unwrap()
            }),
        ),
        (
            "parse body + decode client + verify ids",
            Box::new(|| {
                let body = RequestBody::parse(black_box(f.body.as_bytes())).unwrap();
                let params = body.client().unwrap();
                body.verify_identity_signatures(&params).unwrap();
            }),
        ),
        (
            "site key derivation (HMAC + Ed25519 keygen)",
            Box::new(|| {
                black_box(f.imk.site_key(black_box("example.com"), "").public_key());
            }),
        ),
        (
            "site key sign",
            Box::new(|| {
                let key = f.imk.site_key("example.com", "");
                black_box(key.sign(black_box(&f.message)));
            }),
        ),
        (
            "EnHash",
            Box::new(|| {
                black_box(enhash(black_box(&[7; 32])));
            }),
        ),
        (
            "identity lock (suk + vuk)",
            Box::new(|| {
                black_box(
                    Iuk::from_bytes([1; 32])
                        .ilk()
                        .lock(Rlk::from_bytes([2; 32])),
                );
            }),
        ),
    ]
}

fn criterion_benches(c: &mut Criterion) {
    let f = fixture();
    for (name, op) in operations(&f) {
        c.bench_function(name, |b| b.iter(&op));
    }
    let mut group = c.benchmark_group("enscrypt");
    group.sample_size(10);
    group.bench_function("EnScrypt, 1 iteration (scrypt N=512 r=256)", |b| {
        b.iter(|| enscrypt(b"password", b"salt", 1, |_, _| {}).unwrap())
    });
    group.finish();
}

/// Interleaved rounds: each round times every operation for ~20 ms; the median per-call time
/// over rounds is divided by the baseline's.
fn ratio_table() {
    let f = fixture();
    let ops = operations(&f);
    let rounds = 15;
    let mut per_call: Vec<Vec<f64>> = vec![Vec::new(); ops.len()];
    for _ in 0..rounds {
        for (i, (_, op)) in ops.iter().enumerate() {
            let start = Instant::now();
            let mut n = 0u32;
            while start.elapsed() < Duration::from_millis(20) {
                for _ in 0..16 {
                    op();
                }
                n += 16;
            }
            per_call[i].push(start.elapsed().as_secs_f64() / f64::from(n));
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let medians: Vec<f64> = per_call.iter_mut().map(median).collect();
    let base = medians[0];
    println!("\nratio to raw verify_strict, same run, median of {rounds} interleaved rounds:");
    println!("{:<46} {:>10} {:>8}", "operation", "µs/call", "ratio");
    for ((name, _), t) in ops.iter().zip(&medians) {
        println!("{name:<46} {:>10.2} {:>8.2}", t * 1e6, t / base);
    }
}

criterion_group!(benches, criterion_benches);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratio_table();
}
