//! The driver called directly, on a `MemoryStore`.

use super::*;

/// The driver called directly.
pub struct InProcess {
    sqrl: SqrlServer,
    /// The virtual clock, in milliseconds since the Unix epoch.
    now: AtomicU64,
    runtime: tokio::runtime::Runtime,
}

impl Transport for InProcess {
    const OVER_HTTP: bool = false;

    fn new(mut setup: Setup) -> Self {
        Self {
            sqrl: driver(&mut setup, || Arc::new(MemoryStore::new())),
            now: AtomicU64::new(at(T0).as_millis()),
            runtime: runtime(),
        }
    }

    fn sqrl(&self) -> &SqrlServer {
        &self.sqrl
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    fn now(&self) -> UnixTime {
        UnixTime::from_millis(self.now.load(Ordering::SeqCst))
    }

    fn set_now(&self, now: UnixTime) {
        self.now.store(now.as_millis(), Ordering::SeqCst);
    }

    fn start_for(&self, browser_ip: IpAddr, user_agent: &str) -> Page {
        let now = self.now();
        let flow = self
            .sqrl
            .server()
            .start_flow(browser_ip, user_agent, now, &mut OsRng);
        Page {
            nut: flow.nut,
            url: flow.url,
            flow: flow.flow,
            issued_at: now.as_secs(),
            secret: flow.browser_secret,
        }
    }

    fn post_raw(&self, query: &str, body: &[u8], client_ip: IpAddr) -> Posted {
        let incoming = Incoming {
            query,
            body,
            client_ip,
            now: self.now(),
        };
        let response = self.block_on(self.sqrl.handle(&incoming, &mut OsRng));
        Posted {
            status: 200,
            body: response.body,
        }
    }

    fn status(&self, page: &Page) -> Result<Status, Denied> {
        self.block_on(
            self.sqrl
                .status(&page.flow, &page.secret, page.issued_at, self.now()),
        )
        .map_err(Denied::from)
    }

    fn redeem(&self, page: &Page) -> Result<AccountId, Denied> {
        let now = self.now();
        self.block_on(self.sqrl.redeem(
            &page.flow,
            page.issued_at,
            &page.secret,
            now,
            session_draft(browser_ip(), now),
        ))
        .map_err(Denied::from)
    }

    fn open_cps(&self, link: &str) -> Option<AccountId> {
        let token = link.split_once("token=")?.1;
        let now = self.now();
        self.block_on(
            self.sqrl
                .redeem_cps(token, now, session_draft(browser_ip(), now)),
        )
        .ok()
    }
}
