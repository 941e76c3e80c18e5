//! Draining: when the app is about to stop (SIGTERM from systemd, Docker or Kubernetes), the
//! layer ends what never ends by itself, so that the listener's graceful shutdown finishes in
//! time. [`SqrlHttp::drain`] ends every status stream with a last event that carries the
//! retry interval and nothing else (the browser's `EventSource` reconnects after it, to
//! another instance or to this one restarted), and answers every waiting long-poll at once
//! with the status it has. Requests in flight (a phone's ident, a redemption) are not
//! touched: they finish as usual.

use tokio::sync::watch;

use crate::SqrlHttp;

/// The drain flag of one layer: false until [`SqrlHttp::drain`].
#[derive(Debug)]
pub(crate) struct Drain {
    flag: watch::Sender<bool>,
}

impl Drain {
    /// Not draining.
    pub(crate) fn new() -> Self {
        Self {
            flag: watch::Sender::new(false),
        }
    }
}

impl SqrlHttp {
    /// Starts draining: open status streams end (with the retry interval, so their pages
    /// reconnect), waiting long-polls answer at once, and new streams and polls answer at
    /// once too. Call it when the server stops accepting connections; it cannot be undone.
    pub fn drain(&self) {
        self.inner.drain.flag.send_replace(true);
    }

    /// Whether [`drain`](Self::drain) was called (a readiness probe answers "not ready").
    pub fn draining(&self) -> bool {
        *self.inner.drain.flag.borrow()
    }

    /// Returns once the layer drains (at once if it already does).
    pub(crate) async fn drained(&self) {
        let mut flag = self.inner.drain.flag.subscribe();
        let _ = flag.wait_for(|draining| *draining).await;
    }
}
