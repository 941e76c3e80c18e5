//! `sqrl-site client …` and `sqrl-site keys rotate`: the OpenID Connect provider's relying
//! parties and signing keys, from the command line, on the site's `--database` (SQLite or
//! PostgreSQL; it may be changed while the site runs: every instance reads clients from the
//! database on each request, and picks up a rotated key within a minute).

use clap::Subcommand;
use rand_core::OsRng;
use sqrl_oidc::{Alg, Client, OidcStore, Registration};
use sqrl_server::StoreError;
use sqrl_server_postgres::PostgresStore;
use sqrl_server_sqlite::SqliteClients;

/// The commands besides serving.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Relying parties of the OpenID Connect provider
    #[command(subcommand)]
    Client(ClientCommand),
    /// The provider's ID token signing keys
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum ClientCommand {
    /// Registers an application; prints client_id=… and (once) client_secret=…
    Add {
        /// The name users see on the login and consent pages
        #[arg(long)]
        name: String,
        /// Where codes may be sent (exact match; https, or http to a loopback host)
        #[arg(long = "redirect-uri", value_name = "URI", required = true)]
        redirect_uris: Vec<String>,
        /// Where a logout may return (exact match)
        #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
        post_logout_redirect_uris: Vec<String>,
        /// A public client (an app that cannot keep a secret): no secret, PKCE only
        #[arg(long)]
        public: bool,
        /// Let this client leave PKCE out (only for confidential clients that cannot do it)
        #[arg(long)]
        no_pkce: bool,
        /// The ID token signing algorithm
        #[arg(long, default_value = "RS256", value_parser = parse_alg)]
        alg: Alg,
        /// Give this client the account id as `sub` instead of a pairwise identifier
        #[arg(long)]
        public_subject: bool,
        /// Part of this site: no consent page
        #[arg(long)]
        first_party: bool,
    },
    /// Lists the registered applications
    List,
    /// Removes an application with its codes, tokens and consents
    Remove {
        /// Its client_id
        client_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Makes a new signing key for ALG; the old one stays published until its tokens expire
    Rotate {
        /// RS256, ES256 or EdDSA
        #[arg(long, default_value = "RS256", value_parser = parse_alg)]
        alg: Alg,
    },
}

fn parse_alg(text: &str) -> Result<Alg, String> {
    text.parse()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What the commands need of a database: SQLite opened beside a running site, or the
/// PostgreSQL store that every instance shares.
enum Db {
    Sqlite(SqliteClients),
    Postgres(tokio::runtime::Runtime, PostgresStore),
}

impl Db {
    fn open(database: &str) -> Result<Self, String> {
        if database.starts_with("postgres://") || database.starts_with("postgresql://") {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            let store = runtime
                .block_on(PostgresStore::connect(database))
                .map_err(|e| format!("cannot use the PostgreSQL database: {e}"))?;
            return Ok(Db::Postgres(runtime, store));
        }
        SqliteClients::open(database)
            .map(Db::Sqlite)
            .map_err(|e| format!("cannot open the database {database}: {e}"))
    }

    fn add(&mut self, client: &Client) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(db) => db.add(client),
            Db::Postgres(rt, store) => rt.block_on(store.put_client(client)),
        }
    }

    fn list(&self) -> Result<Vec<Client>, StoreError> {
        match self {
            Db::Sqlite(db) => db.list(),
            Db::Postgres(rt, store) => rt.block_on(store.clients()),
        }
    }

    fn remove(&mut self, id: &str) -> Result<bool, StoreError> {
        match self {
            Db::Sqlite(db) => db.remove(id),
            Db::Postgres(rt, store) => rt.block_on(store.remove_client(id)),
        }
    }

    fn rotate_key(&mut self, alg: Alg, now: u64) -> Result<String, String> {
        match self {
            Db::Sqlite(db) => db.rotate_key(alg, now).map_err(|e| e.to_string()),
            Db::Postgres(rt, store) => rt
                .block_on(sqrl_axum::oidc::rotate_key(store, alg, now))
                .map_err(|e| e.to_string()),
        }
    }
}

/// Runs a command on the database; what to print, or why it failed.
pub(crate) fn run(command: Command, database: &str) -> Result<String, String> {
    let mut db = Db::open(database)?;
    match command {
        Command::Client(ClientCommand::Add {
            name,
            redirect_uris,
            post_logout_redirect_uris,
            public,
            no_pkce,
            alg,
            public_subject,
            first_party,
        }) => {
            let registration = Registration {
                name,
                redirect_uris,
                post_logout_redirect_uris,
                public,
                no_pkce,
                alg,
                public_subject,
                first_party,
            };
            let (client, secret) = registration
                .register(&mut OsRng, now())
                .map_err(|e| e.to_string())?;
            db.add(&client).map_err(|e| e.to_string())?;
            let mut out = format!("client_id={}", client.id);
            if let Some(secret) = secret {
                out.push_str(&format!("\nclient_secret={}", secret.0.as_str()));
            }
            Ok(out)
        }
        Command::Client(ClientCommand::List) => {
            let clients = db.list().map_err(|e| e.to_string())?;
            Ok(clients
                .iter()
                .map(|c| {
                    format!(
                        "{}\t{}\t{}\t{}{}\t{}",
                        c.id,
                        c.name,
                        if c.is_public() {
                            "public"
                        } else {
                            "confidential"
                        },
                        c.alg.as_str(),
                        if c.pkce_required { "" } else { " no-pkce" },
                        c.redirect_uris.join(" ")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"))
        }
        Command::Client(ClientCommand::Remove { client_id }) => {
            if db.remove(&client_id).map_err(|e| e.to_string())? {
                Ok(format!("removed {client_id}"))
            } else {
                Err(format!("no client {client_id}"))
            }
        }
        Command::Keys(KeysCommand::Rotate { alg }) => {
            let kid = db.rotate_key(alg, now())?;
            Ok(format!("kid={kid}"))
        }
    }
}
