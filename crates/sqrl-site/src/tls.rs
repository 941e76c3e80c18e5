//! HTTPS: the rustls server configuration from PEM files, and a local certificate authority
//! for sites that have no public certificate (a phone on the local network, a test).

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

use sqrl_axum::date::ymd;

/// The rustls configuration for a certificate chain and key in PEM files: TLS 1.2 and 1.3 on
/// the ring provider, HTTP/2 and HTTP/1.1 announced by ALPN (h2 first: a browser's waiting
/// page then costs a stream of its one connection, not one of its six HTTP/1.1 connections).
pub(crate) fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read the certificate {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("no certificate in {}", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read the private key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("the certificate and key do not make a TLS identity: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // Stateless session tickets (encrypted under a key rotated every few hours), so that
    // browsers and phones resume sessions whatever the load: the default, tickets kept in a
    // cache of 256 sessions, forgot them within a fraction of a second under load, and
    // every connection paid a full handshake.
    config.ticketer =
        rustls::crypto::ring::Ticketer::new().map_err(|e| format!("TLS session tickets: {e}"))?;
    Ok(Arc::new(config))
}

/// The files of a local certificate authority and the site's certificate, in one directory.
#[derive(Debug, Clone)]
pub(crate) struct LocalCa {
    /// The CA certificate to trust (`ca.pem`).
    pub(crate) ca: PathBuf,
    /// The site's certificate (`cert.pem`).
    pub(crate) cert: PathBuf,
    /// The site's private key (`key.pem`, mode 0600).
    pub(crate) key: PathBuf,
    /// Whether the CA was made now (rather than found).
    pub(crate) new_ca: bool,
}

/// Days a site certificate is valid (within the 825 days Apple's devices accept from a CA
/// that a user installed).
const CERT_DAYS: u64 = 397;
/// A certificate is made anew this many days before it expires.
const RENEW_DAYS: u64 = 30;
/// Days the CA is valid.
const CA_DAYS: u64 = 3650;

/// Makes, or reuses when `dir` has them, a local CA (`ca.pem`, `ca-key.pem`) and a
/// certificate for `host` signed by it (`cert.pem`, `key.pem`). The certificate names `host`
/// (an IP address or a DNS name), `localhost`, `127.0.0.1` and `::1`; it is made anew when it
/// names other hosts or expires within 30 days. The CA is kept, so a phone that trusts it
/// keeps trusting the site. Key files are written with mode 0600.
pub(crate) fn local_ca(dir: &Path, host: &str) -> Result<LocalCa, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let files = LocalCa {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
        new_ca: false,
    };
    let ca_key_path = dir.join("ca-key.pem");
    let info_path = dir.join("cert.info");
    let now = unix_now();

    let (ca_key, new_ca) = if ca_key_path.exists() && files.ca.exists() {
        let pem = read(&ca_key_path)?;
        let key = KeyPair::from_pem(&pem)
            .map_err(|e| format!("{} is not a private key: {e}", ca_key_path.display()))?;
        (key, false)
    } else {
        let key = KeyPair::generate().map_err(|e| format!("cannot make a key: {e}"))?;
        (key, true)
    };
    // The CA certificate is rebuilt from its key: same subject, same key, so what it signs
    // verifies against the `ca.pem` that devices trust.
    let ca_cert = ca_params(&ca_key, now)
        .self_signed(&ca_key)
        .map_err(|e| format!("cannot make the CA certificate: {e}"))?;
    if new_ca {
        write_file(&ca_key_path, ca_key.serialize_pem().as_bytes(), true)?;
        write_file(&files.ca, ca_cert.pem().as_bytes(), false)?;
    }

    let names = subject_names(host);
    let wanted_info = format!("{}\n", names.join(" "));
    let current = !new_ca
        && files.cert.exists()
        && files.key.exists()
        && std::fs::read_to_string(&info_path).is_ok_and(|info| {
            let mut lines = info.lines();
            let hosts_match = lines.next() == wanted_info.lines().next();
            let expires = lines
                .next()
                .and_then(|l| l.parse::<u64>().ok())
                .unwrap_or(0);
            hosts_match && expires > now.saturating_add(RENEW_DAYS * 86_400)
        });
    if !current {
        let key = KeyPair::generate().map_err(|e| format!("cannot make a key: {e}"))?;
        let mut params = CertificateParams::default();
        params.subject_alt_names = names
            .iter()
            .map(|name| match name.parse::<IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => name
                    .clone()
                    .try_into()
                    .map(SanType::DnsName)
                    .map_err(|e| format!("{name} cannot be named in a certificate: {e}")),
            })
            .collect::<Result<_, String>>()?;
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let expires = now.saturating_add(CERT_DAYS * 86_400);
        validity(&mut params, now.saturating_sub(86_400), expires);
        let cert = params
            .signed_by(&key, &ca_cert, &ca_key)
            .map_err(|e| format!("cannot make the site certificate: {e}"))?;
        write_file(&files.key, key.serialize_pem().as_bytes(), true)?;
        write_file(&files.cert, cert.pem().as_bytes(), false)?;
        write_file(
            &info_path,
            format!("{wanted_info}{expires}\n").as_bytes(),
            false,
        )?;
    }
    Ok(LocalCa { new_ca, ..files })
}

/// What to tell the person running the site about trusting a local CA.
pub(crate) fn trust_instructions(files: &LocalCa, origin: &str) -> String {
    let ca = files.ca.display();
    let made = if files.new_ca {
        "made a new local certificate authority"
    } else {
        "using the local certificate authority"
    };
    format!(
        "sqrl-site: {made} in {ca}; it signed {cert} for {origin}.\n\
         Trust {ca} (only on devices you own; keep ca-key.pem secret: it can sign for any site):\n\
         - the sqrl command: sqrl --ca-cert {ca} login ... (or SQRL_CA_CERT={ca})\n\
         - a phone: send it ca.pem and install it as a CA profile (iOS: Settings > General > \
         VPN & Device Management, then About > Certificate Trust Settings; Android: Settings > \
         Security > Encryption & credentials > Install a certificate > CA certificate)\n\
         - a browser: import it as an authority (Firefox: Settings > Privacy & Security > \
         Certificates > View Certificates > Authorities > Import; Chromium: Settings > Privacy \
         and security > Security > Manage certificates > Authorities)",
        cert = files.cert.display(),
    )
}

/// The names a site certificate carries: the origin's host, then the loopback names.
fn subject_names(host: &str) -> Vec<String> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let mut names = vec![host.to_owned()];
    for local in ["localhost", "127.0.0.1", "::1"] {
        if !names.iter().any(|n| n == local) {
            names.push(local.to_owned());
        }
    }
    names
}

/// The CA's parameters, all derived from its key (so they can be rebuilt from it): the name
/// carries a hash of the public key, so that two sites' CAs never share a name.
fn ca_params(key: &KeyPair, now: u64) -> CertificateParams {
    let digest = Sha256::digest(key.public_key_raw());
    let tag: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "sqrl-site");
    dn.push(DnType::CommonName, format!("sqrl-site local CA {tag}"));
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    validity(
        &mut params,
        now.saturating_sub(86_400),
        now.saturating_add(CA_DAYS * 86_400),
    );
    params
}

/// Sets a certificate's validity from and to Unix times.
fn validity(params: &mut CertificateParams, from: u64, to: u64) {
    let (year, month, day) = ymd(from);
    params.not_before = rcgen::date_time_ymd(year, month, day);
    let (year, month, day) = ymd(to);
    params.not_after = rcgen::date_time_ymd(year, month, day);
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Writes a file whole (through a temporary file and a rename); `secret` files get mode 0600
/// from their creation.
fn write_file(path: &Path, contents: &[u8], secret: bool) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let _ = std::fs::remove_file(&temporary);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(&temporary).map_err(fail)?;
    file.write_all(contents).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    drop(file);
    std::fs::rename(&temporary, path).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_for_hosts() {
        assert_eq!(
            subject_names("example.com"),
            ["example.com", "localhost", "127.0.0.1", "::1"]
        );
        assert_eq!(subject_names("[::1]"), ["::1", "localhost", "127.0.0.1"]);
        assert_eq!(
            subject_names("localhost"),
            ["localhost", "127.0.0.1", "::1"]
        );
    }
}
