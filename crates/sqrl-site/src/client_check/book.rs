//! The grades kept in memory: exchanges (nut chains) of graded requests, bounded.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use sqrl_check::grade::{Grade, Graded, Previous};
use sqrl_proto::ServerParams;

/// Exchanges kept; the oldest is forgotten when another starts.
const MAX_EXCHANGES: usize = 64;
/// Requests kept per exchange; later ones are only counted.
const MAX_REQUESTS: usize = 12;
/// The most characters of a client's `idk` kept.
const MAX_IDK_LEN: usize = 64;

/// The grades so far, shared by the endpoint's wrapper and the report.
#[derive(Clone, Debug)]
pub(crate) struct ClientCheck {
    book: Arc<Mutex<Book>>,
    /// The SQRL endpoint's path (`/sqrl`).
    pub(super) endpoint: String,
    /// Its CPS redemption path (`/sqrl/cps`).
    pub(super) cps: String,
}

#[derive(Debug, Default)]
pub(super) struct Book {
    /// Oldest first.
    pub(super) exchanges: VecDeque<Exchange>,
    next_id: u64,
    /// The nut of every reply of a kept exchange: its exchange, and the reply.
    replies: HashMap<String, (u64, Previous)>,
    /// The path and query of every CPS `url=` sent and not yet opened: its exchange.
    cps_links: HashMap<String, u64>,
    /// Exchanges forgotten to stay within [`MAX_EXCHANGES`].
    pub(super) forgotten: u64,
}

#[derive(Debug)]
pub(super) struct Exchange {
    pub(super) id: u64,
    /// Unix seconds of its first request.
    pub(super) started: u64,
    pub(super) idk: Option<String>,
    pub(super) requests: Vec<Recorded>,
    /// The nuts of the replies sent on it (to forget them with it).
    nuts: Vec<String>,
    /// Set when a non-query command asked for CPS.
    pub(super) cps: Option<Cps>,
    /// Requests past [`MAX_REQUESTS`], counted only.
    pub(super) unrecorded: usize,
}

#[derive(Debug)]
pub(super) struct Cps {
    /// The reply carried `url=`.
    pub(super) url_sent: bool,
    /// A browser opened it.
    pub(super) followed: bool,
    /// Its path and query, while it waits.
    link: Option<String>,
}

#[derive(Debug)]
pub(super) struct Recorded {
    pub(super) command: String,
    /// The reply's TIF in hex, when the reply was a SQRL reply.
    pub(super) tif: Option<String>,
    pub(super) grades: Vec<Grade>,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The path and query of a CPS link (absolute, as our server sends it, or root-anchored).
fn link_path(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    match after_scheme.find('/') {
        Some(i) if url.contains("://") => after_scheme.get(i..).unwrap_or("/").to_owned(),
        _ => url.to_owned(),
    }
}

impl ClientCheck {
    /// Grades for the SQRL endpoint at `endpoint` (`/sqrl`).
    pub(crate) fn new(endpoint: &str) -> Self {
        Self {
            book: Arc::new(Mutex::new(Book::default())),
            endpoint: endpoint.to_owned(),
            cps: format!("{endpoint}/cps"),
        }
    }

    pub(super) fn book(&self) -> MutexGuard<'_, Book> {
        // The book is only ever left consistent; a panic elsewhere does not spoil it.
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The exchange a request on `nut` continues, and the reply it answers.
    pub(super) fn previous(&self, nut: Option<&str>) -> Option<(u64, Previous)> {
        let book = self.book();
        nut.and_then(|nut| book.replies.get(nut)).cloned()
    }

    /// Records one graded request and the reply it got.
    pub(super) fn record(&self, exchange: Option<u64>, graded: Graded, reply: &str) {
        let params = ServerParams::decode(reply.trim()).ok();
        let previous = Previous::from_reply(reply);
        let mut book = self.book();
        let book = &mut *book;
        let id = match exchange.filter(|id| book.exchanges.iter().any(|e| e.id == *id)) {
            Some(id) => id,
            None => book.open(),
        };
        let Some(exchange) = book.exchanges.iter_mut().find(|e| e.id == id) else {
            return;
        };
        if exchange.requests.len() >= MAX_REQUESTS {
            exchange.unrecorded = exchange.unrecorded.saturating_add(1);
            return;
        }
        if exchange.idk.is_none() {
            exchange.idk = graded
                .idk
                .map(|idk| idk.chars().take(MAX_IDK_LEN).collect());
        }
        let command = graded.command.unwrap_or_default();
        if graded.cps && command != "query" {
            let link = params
                .as_ref()
                .and_then(|p| p.url.as_deref())
                .map(link_path);
            if let Some(link) = &link {
                book.cps_links.insert(link.clone(), id);
            }
            exchange.cps = Some(Cps {
                url_sent: link.is_some(),
                followed: false,
                link,
            });
        }
        exchange.requests.push(Recorded {
            command: command.chars().take(16).collect(),
            tif: params.as_ref().map(|p| format!("{:X}", p.tif.bits())),
            grades: graded.grades,
        });
        if let (Some(params), Some(previous)) = (params, previous) {
            exchange.nuts.push(params.nut.clone());
            book.replies.insert(params.nut, (id, previous));
        }
    }

    /// A browser opened `link`: if it is a CPS `url=` this site sent, its exchange followed it.
    pub(super) fn opened(&self, link: &str) {
        let mut book = self.book();
        let Some(id) = book.cps_links.remove(link) else {
            return;
        };
        if let Some(cps) = book
            .exchanges
            .iter_mut()
            .find(|e| e.id == id)
            .and_then(|e| e.cps.as_mut())
        {
            cps.followed = true;
            cps.link = None;
        }
    }
}

impl Book {
    /// Starts an exchange, forgetting the oldest when full; returns its id.
    fn open(&mut self) -> u64 {
        while self.exchanges.len() >= MAX_EXCHANGES {
            let Some(old) = self.exchanges.pop_front() else {
                break;
            };
            for nut in &old.nuts {
                self.replies.remove(nut);
            }
            if let Some(link) = old.cps.and_then(|cps| cps.link) {
                self.cps_links.remove(&link);
            }
            self.forgotten = self.forgotten.saturating_add(1);
        }
        self.next_id = self.next_id.saturating_add(1);
        self.exchanges.push_back(Exchange {
            id: self.next_id,
            started: unix_now(),
            idk: None,
            requests: Vec::new(),
            nuts: Vec::new(),
            cps: None,
            unrecorded: 0,
        });
        self.next_id
    }
}

/// The book's bounds and its grouping by nut chain.
#[cfg(test)]
mod tests {
    use sqrl_check::grade::{grade_request, Context};
    use sqrl_proto::{ServerParams, Tif};

    use super::*;

    fn reply(nut: &str, url: Option<&str>) -> String {
        let mut params = ServerParams::new(nut, Tif::from_bits(0x05), format!("/sqrl?nut={nut}"));
        params.url = url.map(str::to_owned);
        params.encode().unwrap()
    }

    fn graded(cps: bool) -> Graded {
        let mut graded = grade_request(b"client=AAAA&server=AAAA&ids=AAAA", &Context::default());
        graded.command = Some("ident".into());
        graded.cps = cps;
        graded
    }

    #[test]
    fn a_client_sending_without_end_keeps_memory_bounded() {
        let check = ClientCheck::new("/sqrl");
        // Many exchanges: only the newest are kept, and their nuts with them.
        for n in 0..(MAX_EXCHANGES * 3) {
            check.record(None, graded(false), &reply(&format!("n{n}"), None));
        }
        // One exchange that never ends: its requests past the limit are only counted.
        let mut nut = "n0".to_owned();
        for n in 0..(MAX_REQUESTS * 5) {
            let exchange = check.previous(Some(&nut)).map(|(id, _)| id);
            let next = format!("chain{n}");
            check.record(
                exchange,
                graded(true),
                &reply(&next, Some("https://x/sqrl/cps?token=t")),
            );
            nut = next;
        }
        let book = check.book();
        assert_eq!(book.exchanges.len(), MAX_EXCHANGES);
        assert!(book.replies.len() <= MAX_EXCHANGES * MAX_REQUESTS);
        assert!(book.cps_links.len() <= MAX_EXCHANGES);
        assert!(book.forgotten > 0);
        let longest = book.exchanges.iter().map(|e| e.requests.len()).max();
        assert_eq!(longest, Some(MAX_REQUESTS));
        assert!(book.exchanges.iter().any(|e| e.unrecorded > 0));
    }

    #[test]
    fn a_request_on_a_replys_nut_continues_its_exchange() {
        let check = ClientCheck::new("/sqrl");
        check.record(None, graded(false), &reply("first", None));
        let (id, previous) = check.previous(Some("first")).unwrap();
        assert_eq!(previous.text, reply("first", None));
        check.record(Some(id), graded(false), &reply("second", None));
        check.record(None, graded(false), &reply("other", None));
        let book = check.book();
        assert_eq!(book.exchanges.len(), 2);
        assert_eq!(book.exchanges.front().map(|e| e.requests.len()), Some(2));
    }

    #[test]
    fn a_cps_link_opened_is_recorded_once() {
        let check = ClientCheck::new("/sqrl");
        check.record(
            None,
            graded(true),
            &reply("n", Some("http://127.0.0.1:1/sqrl/cps?token=abc")),
        );
        check.opened("/sqrl/cps?token=other");
        assert!(!check.book().exchanges[0].cps.as_ref().unwrap().followed);
        check.opened("/sqrl/cps?token=abc");
        let book = check.book();
        let cps = book.exchanges[0].cps.as_ref().unwrap();
        assert!(cps.followed && cps.url_sent);
        assert!(book.cps_links.is_empty());
    }

    #[test]
    fn a_reply_that_is_not_sqrl_is_recorded_without_a_nut() {
        let check = ClientCheck::new("/sqrl");
        check.record(None, graded(false), "not a reply");
        let book = check.book();
        assert_eq!(book.exchanges.len(), 1);
        assert!(book.replies.is_empty());
        assert_eq!(book.exchanges[0].requests[0].tif, None);
    }

    #[test]
    fn links_are_read_from_urls() {
        assert_eq!(
            link_path("https://example.com:8443/sqrl/cps?token=a"),
            "/sqrl/cps?token=a"
        );
        assert_eq!(link_path("/sqrl/cps?token=a"), "/sqrl/cps?token=a");
    }
}
