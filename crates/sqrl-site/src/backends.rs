//! Which backends the site runs on, from `--database` and `--redis`.
//!
//! | flags | accounts, sessions, keys | flows | events, limits |
//! |---|---|---|---|
//! | `--database FILE` (default) | SQLite | this process's memory | this process |
//! | `--database postgres://…` | PostgreSQL | PostgreSQL | this process |
//! | either, `--redis redis://…` | the database | Redis | Redis (shared) |
//!
//! A SQLite file serves one process, so its flows (login state that lives for a code's
//! lifetime plus the redemption window) stay in memory: a login then costs one database write
//! (the session) instead of three. A restart forgets the logins in progress; the site refuses
//! codes issued before it started (`Config::codes_not_before`), so every code stays single
//! use, and their pages show "expired" with a button for a new code.
//!
//! Several instances need a shared database and `--redis`: without Redis a waiting page
//! hears only of logins its own instance handled (it still finds out at its next re-read)
//! and each instance counts its own limits.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sqrl_oidc::OidcStore;
use sqrl_server::{Events, Lifetimes, Limiter, MemoryStore, SplitStore, SqrlServer, Store};
use sqrl_server_postgres::PostgresStore;
use sqrl_server_redis::{RedisConnection, RedisEvents, RedisFlows, RedisLimiter};
use sqrl_server_sqlite::SqliteStore;

use crate::args::LONGEST_NUT_LIFETIME;
use crate::config::BackendUrls;

/// Most login flows held in memory (a few hundred bytes each). Housekeeping forgets a flow
/// once its code's lifetime, the redemption window and the clock skew have passed (8 minutes
/// by default, checked every 30 s), so this holds what one core can log in over that time
/// (about 1500 a second here) with room to spare, and it bounds memory (a few hundred MB)
/// if the scan limits are lifted. At the limit the oldest scan not yet confirmed is evicted
/// (`MemoryStore::with_flow_limit`), so a flood of scans from many addresses cannot lock
/// honest users out.
const MEMORY_FLOW_LIMIT: usize = 1_000_000;

pub(crate) struct Backends {
    pub(crate) store: Arc<dyn Store>,
    /// The OpenID Connect provider's state, in the database.
    pub(crate) oidc: Arc<dyn OidcStore>,
    pub(crate) sqlite_path: Option<PathBuf>,
    /// The flows live in this process's memory (forgotten on restart).
    pub(crate) flows_in_memory: bool,
    shared: Option<(Arc<dyn Events>, Arc<dyn Limiter>)>,
    pub(crate) describe: String,
}

impl Backends {
    /// The driver with the shared events and limits, when there are any. Flows in a shared
    /// store may be read by an instance started with another `--nut-lifetime` (a fleet in the
    /// middle of changing it), so they are kept for the longest one any instance may have; a
    /// flow in this process's memory serves only this process, and its own lifetimes decide.
    pub(crate) fn attach(&self, sqrl: SqrlServer) -> SqrlServer {
        let sqrl = if self.flows_in_memory {
            sqrl
        } else {
            sqrl.with_shared_flows(LONGEST_NUT_LIFETIME)
        };
        match &self.shared {
            Some((events, limiter)) => sqrl
                .with_events(events.clone())
                .with_limiter(limiter.clone()),
            None => sqrl,
        }
    }
}

enum Database {
    Sqlite(SqliteStore, PathBuf),
    Postgres(PostgresStore),
}

pub(crate) async fn open(urls: &BackendUrls, lifetimes: Lifetimes) -> Result<Backends, String> {
    let database = urls.database.as_str();
    let db = if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        let store = PostgresStore::connect(database)
            .await
            .map_err(|e| format!("cannot use the PostgreSQL database: {e}"))?;
        Database::Postgres(store)
    } else {
        let path = PathBuf::from(database);
        // A database it cannot write (a read-only file system, say) stops the site at start:
        // every login writes a session, so it would serve a page on which no one can log in.
        let store = SqliteStore::open(&path).map_err(|e| {
            format!(
                "cannot open the database {database}: {e} (the site must be able to write it:                  every login writes a session)"
            )
        })?;
        Database::Sqlite(store, path)
    };
    let oidc: Arc<dyn OidcStore> = match &db {
        Database::Sqlite(store, _) => Arc::new(store.clone()),
        Database::Postgres(store) => Arc::new(store.clone()),
    };
    let (db_name, sqlite_path) = match &db {
        Database::Sqlite(_, path) => (format!("SQLite {}", path.display()), Some(path.clone())),
        Database::Postgres(_) => ("PostgreSQL".to_owned(), None),
    };
    let Some(url) = urls.redis.as_deref() else {
        let (store, flows_in_memory): (Arc<dyn Store>, bool) = match db {
            Database::Sqlite(accounts, _) => (
                Arc::new(SplitStore {
                    flows: MemoryStore::with_flow_limit(MEMORY_FLOW_LIMIT),
                    accounts,
                }),
                true,
            ),
            Database::Postgres(store) => (Arc::new(store), false),
        };
        let flows = if flows_in_memory {
            ", login flows in memory"
        } else {
            ""
        };
        return Ok(Backends {
            store,
            oidc,
            sqlite_path,
            flows_in_memory,
            shared: None,
            describe: format!("database {db_name}{flows}"),
        });
    };
    let connection = RedisConnection::connect(url, "sqrl:")
        .await
        .map_err(|e| format!("cannot use Redis at {url}: {e}"))?;
    // Every write of a flow keeps it this long from the write, at least as long as
    // housekeeping would keep it from the code's issue.
    let ttl = Duration::from_secs(lifetimes.shared_flow_retention(LONGEST_NUT_LIFETIME));
    let flows = RedisFlows::new(connection.clone(), ttl);
    let events = RedisEvents::connect(connection.clone())
        .await
        .map_err(|e| format!("cannot subscribe to Redis events: {e}"))?;
    let store: Arc<dyn Store> = match db {
        Database::Sqlite(accounts, _) => Arc::new(SplitStore { flows, accounts }),
        Database::Postgres(accounts) => Arc::new(SplitStore { flows, accounts }),
    };
    Ok(Backends {
        store,
        oidc,
        sqlite_path,
        flows_in_memory: false,
        shared: Some((Arc::new(events), Arc::new(RedisLimiter::new(connection)))),
        describe: format!("database {db_name}, flows/events/limits in Redis"),
    })
}
