//! `sqrl-site` as an OpenID Connect provider, checked by a relying party nobody on the
//! project wrote: Authlib (Python) runs the whole login (the SQRL part by the `sqrl` command)
//! and the protocol's negative cases, verifying the ID tokens with the provider's JWKS
//! (`tests/oidc/rp.py`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::process::Command;

use sqrl_testkit::{binary, temp_dir, SiteProcess};

const PASSWORD: &str = "correct horse battery staple";

/// Runs `sqrl-site <args>` on the site's database; its standard output.
fn site_command(database: &Path, args: &[&str]) -> String {
    let out = Command::new(binary("sqrl-site"))
        .arg("--database")
        .arg(database)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn value<'a>(printed: &'a str, name: &str) -> &'a str {
    printed
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name}= in {printed}"))
}

#[test]
#[cfg_attr(
    not(sqrl_authlib),
    ignore = "skipped: python3 with Authlib and requests is not installed"
)]
fn authlib_relying_party_logs_in_with_sqrl_and_its_negative_cases_are_refused() {
    let dir = temp_dir("e2e-oidc");
    let database = dir.join("site.sqlite");
    // The site asks known identities (the default): the question names the application.
    let site = SiteProcess::start(&dir, &[]);
    // Registered while the site runs: it reads clients from the database on each request.
    let wiki = site_command(
        &database,
        &[
            "client",
            "add",
            "--name",
            "Wiki",
            "--redirect-uri",
            "http://127.0.0.1:9/cb",
            "--post-logout-redirect-uri",
            "http://127.0.0.1:9/bye",
        ],
    );
    let notes = site_command(
        &database,
        &[
            "client",
            "add",
            "--name",
            "Notes",
            "--public",
            "--alg",
            "EdDSA",
            "--redirect-uri",
            "http://127.0.0.1:9/cb",
        ],
    );
    assert!(
        !notes.contains("client_secret="),
        "a public client has no secret: {notes}"
    );
    let listed = site_command(&database, &["client", "list"]);
    assert!(
        listed.contains("Wiki") && listed.contains("Notes"),
        "{listed}"
    );

    let [(identity, rescue_code), (other, _)] = ["phone.sqrl", "other.sqrl"].map(|name| {
        let identity = dir.join(name);
        let made = Command::new(binary("sqrl"))
            .args(["identity", "new", "--enscrypt-iterations", "1"])
            .env("SQRL_IDENTITY", &identity)
            .env("SQRL_NEW_PASSWORD", PASSWORD)
            .output()
            .unwrap();
        assert!(made.status.success(), "{made:?}");
        let rescue_code = String::from_utf8(made.stdout)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("Rescue code: ").map(str::to_owned))
            .expect("the rescue code is printed");
        (identity, rescue_code)
    });

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc/rp.py");
    let run = Command::new("python3")
        .arg(script)
        .args([
            site.base.as_str(),
            value(&wiki, "client_id"),
            value(&wiki, "client_secret"),
            value(&notes, "client_id"),
        ])
        .arg(binary("sqrl"))
        .arg(&identity)
        .arg(&other)
        .arg(&rescue_code)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "the relying party failed:\n{stdout}\n{stderr}\nsite log:\n{}",
        site.log()
    );
    assert!(stdout.contains("checks passed"), "{stdout}");
    drop(site);
    let _ = std::fs::remove_dir_all(&dir);
}
