//! `sqrl cps`: same-device login through the SQRL localhost protocol.
//!
//! Serves `http://127.0.0.1:25519` (loopback only): any `*.gif` path answers with a 1×1 GIF so
//! a login page can see that a client is running; any other path is the base64url of a SQRL
//! URL, for which the client runs the exchange with `opt=cps` and then redirects the waiting
//! browser (302) to the server's `url=`, or to the URL's `can=` on cancel or failure. A request
//! with an `Origin` header is dropped without an answer: only a top-level navigation may use it.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use clap::Args;
use sqrl_client::exchange::{Action, Keys};
use sqrl_proto::SqrlUrl;

use crate::failure::{Failure, Kind, Outcome};
use crate::global::Global;
use crate::session::{self, Common};

/// A transparent 1×1 GIF.
const GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

#[derive(Debug, Args)]
pub(crate) struct CpsArgs {
    /// Port on 127.0.0.1 (the SQRL standard is 25519)
    #[arg(long, default_value_t = 25519)]
    port: u16,
    /// Stop after the first login attempt
    #[arg(long)]
    once: bool,
    #[command(flatten)]
    common: Common,
}

struct Request {
    path: String,
    has_origin: bool,
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?;
    let path = parts.next()?.to_owned();
    if method != "GET" || path.len() > 4096 {
        return None;
    }
    let mut has_origin = false;
    for _ in 0..100 {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
        if header.to_ascii_lowercase().starts_with("origin:") {
            has_origin = true;
        }
    }
    Some(Request { path, has_origin })
}

fn respond(mut stream: &TcpStream, status: &str, headers: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

fn redirect(stream: &TcpStream, to: &str) {
    respond(stream, "302 Found", &format!("Location: {to}\r\n"), b"");
}

fn page(stream: &TcpStream, message: &str) {
    let body = format!("<!doctype html><meta charset=utf-8><title>SQRL</title><p>{message}</p>");
    respond(
        stream,
        "200 OK",
        "Content-Type: text/html; charset=utf-8\r\n",
        body.as_bytes(),
    );
}

/// The SQRL URL a page sent as base64url, or why it is not one.
fn parse_link(encoded: &str) -> Result<SqrlUrl, String> {
    let bytes = sqrl_proto::b64::decode_lenient(encoded)
        .map_err(|_| "the address is not base64url".to_owned())?;
    let text =
        String::from_utf8(bytes).map_err(|_| "the decoded address is not UTF-8".to_owned())?;
    SqrlUrl::parse(&text).map_err(|e| e.to_string())
}

/// `text` made safe inside an HTML element.
fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Listens on `port` of 127.0.0.1, saying what to do when that is impossible.
fn listen(port: u16) -> Result<TcpListener, Failure> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpListener::bind(address).map_err(|e| {
        let message = if e.kind() == std::io::ErrorKind::AddrInUse {
            format!(
                "Cannot serve same-device logins: {address} is already in use, probably by \
                 another `sqrl cps`. Stop that one first (or use --port for tests)."
            )
        } else {
            format!("Cannot serve same-device logins on {address}: {e}.")
        };
        Failure::new(Kind::Network, message)
    })
}

pub(crate) fn run(global: &Global, args: CpsArgs) -> Outcome {
    // The port first: a taken port fails at once, not after the password's seconds.
    let listener = listen(args.port)?;
    let address = listener
        .local_addr()
        .map_err(|e| Failure::new(Kind::Network, format!("cannot listen: {e}")))?;
    let transport = global.transport()?;
    let identity = session::load(&global.identity_path()?)?;
    let unlocked = session::unlock(&identity)?;
    let keys = Keys::from_unlocked(&unlocked);
    eprintln!("Waiting for same-device logins on http://{address} (Ctrl-C to stop).");
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let Some(request) = read_request(&stream) else {
            continue;
        };
        if request.has_origin {
            continue; // dropped: scripts must not drive the client
        }
        let path = request.path.trim_start_matches('/');
        if path.ends_with(".gif") {
            respond(&stream, "200 OK", "Content-Type: image/gif\r\n", GIF);
            continue;
        }
        // The path is base64url of the SQRL URL; sloppy pages send + and / too.
        let url = match parse_link(path.split('?').next().unwrap_or_default()) {
            Ok(url) => url,
            Err(why) => {
                eprintln!("sqrl: refused a link that is not a SQRL login link: {why}.");
                page(
                    &stream,
                    &format!("That is not a SQRL login link: {}.", html_escape(&why)),
                );
                continue;
            }
        };
        let url = global.reach(url);
        let cancel = url.cancel_url().map(str::to_owned);
        let config = session::config(&unlocked.settings, &args.common, true, false);
        let result = session::run(
            global,
            &transport,
            url,
            Action::Login,
            &keys,
            config,
            &args.common,
            None,
        );
        match (result, cancel) {
            (Ok(outcome), _) if outcome.redirect.is_some() => {
                eprintln!("Logged in; sending the browser to the site.");
                redirect(&stream, outcome.redirect.as_deref().unwrap_or("/"));
            }
            (Err(failure), Some(cancel)) => {
                eprintln!("sqrl: {}", failure.message);
                redirect(&stream, &cancel);
            }
            (Err(failure), None) => {
                eprintln!("sqrl: {}", failure.message);
                page(
                    &stream,
                    "The login did not complete. Press Back and try again.",
                );
            }
            (Ok(_), _) => page(
                &stream,
                "The site did not return a session link. Press Back.",
            ),
        }
        if args.once {
            break;
        }
    }
    Ok(())
}
