//! `sqrl-site client …` and `sqrl-site keys rotate`: the OpenID Connect provider's relying
//! parties and signing keys, from the command line, on the site's `--database` (a SQLite
//! file may be changed while the site runs: it reads clients from the database on every
//! request, and picks up a rotated key within a minute).

use clap::Subcommand;
use rand_core::OsRng;
use sqrl_oidc::{Alg, Registration};
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

/// Runs a command on the database; what to print, or why it failed.
pub(crate) fn run(command: Command, database: &str) -> Result<String, String> {
    if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        return Err(
            "the OpenID Connect provider keeps its clients in SQLite for now; \
             PostgreSQL support is not implemented yet"
                .into(),
        );
    }
    let mut db = SqliteClients::open(database)
        .map_err(|e| format!("cannot open the database {database}: {e}"))?;
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
            let kid = db.rotate_key(alg, now()).map_err(|e| e.to_string())?;
            Ok(format!("kid={kid}"))
        }
    }
}
