//! The signals that stop the site: SIGTERM (what systemd, Docker and Kubernetes send) and
//! SIGINT (Ctrl-C) both drain it (see [`run`](crate::run)); neither kills it at once.

/// Waits for SIGTERM or SIGINT; the name of the one that came. Where a handler cannot be
/// installed, that signal keeps its default action (it ends the process) and is not waited
/// for.
pub(crate) async fn signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(term) => Some(term),
            Err(error) => {
                tracing::warn!(%error, "cannot handle SIGTERM: it will stop the site without draining");
                None
            }
        };
        let terminate = async {
            match term.as_mut() {
                Some(term) => {
                    term.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = terminate => "SIGTERM",
            _ = tokio::signal::ctrl_c() => "SIGINT",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}
