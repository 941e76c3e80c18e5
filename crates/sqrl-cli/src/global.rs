//! The options every command takes: the identity file, verbosity, extra CA certificates and
//! plain HTTP to loopback test sites.

use std::path::PathBuf;

use clap::Args;
use sqrl_client::transport::HttpTransport;
use sqrl_proto::SqrlUrl;

use crate::failure::{Failure, Kind};

#[derive(Debug, Args)]
pub(crate) struct Global {
    /// Identity file [default: the platform's config directory, sqrl/identity.sqrl]
    #[arg(long, global = true, env = "SQRL_IDENTITY", value_name = "PATH")]
    identity: Option<PathBuf>,
    /// Show protocol steps on stderr (-v: steps, -vv: debug)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Also trust the CA certificates in this PEM file (beside the built-in and the system's)
    #[arg(long, global = true, env = "SQRL_CA_CERT", value_name = "PATH")]
    ca_cert: Option<PathBuf>,
    /// DANGEROUS, for a test site on this computer only: talk plain HTTP, without TLS, to
    /// loopback hosts (127.0.0.0/8, ::1, localhost)
    #[arg(long, global = true)]
    pub(crate) danger_loopback_http: bool,
}

impl Global {
    /// The HTTPS transport: built-in and system roots, plus `--ca-cert`.
    pub(crate) fn transport(&self) -> Result<HttpTransport, Failure> {
        let mut transport = HttpTransport::default();
        if let Some(path) = &self.ca_cert {
            transport = transport
                .with_ca_cert_file(path)
                .map_err(|e| Failure::new(Kind::Input, e.to_string()))?;
        }
        if self.danger_loopback_http {
            transport = transport.danger_allow_loopback_http();
        }
        Ok(transport)
    }

    /// `url` as this run reaches it: under `--danger-loopback-http` a loopback site is
    /// reached over plain HTTP, so its root-anchored links (`url=`, `can=`) resolve to
    /// `http://` like the requests.
    pub(crate) fn reach(&self, url: SqrlUrl) -> SqrlUrl {
        if self.danger_loopback_http && sqrl_client::transport::is_loopback_host(url.host()) {
            url.with_plain_http_links()
        } else {
            url
        }
    }

    /// The identity file: `--identity`, or the platform's config directory.
    pub(crate) fn identity_path(&self) -> Result<PathBuf, Failure> {
        match &self.identity {
            Some(path) => Ok(path.clone()),
            None => dirs::config_dir()
                .map(|d| d.join("sqrl").join("identity.sqrl"))
                .ok_or_else(|| {
                    Failure::new(
                        Kind::Identity,
                        "no config directory here; pass --identity PATH",
                    )
                }),
        }
    }
}
