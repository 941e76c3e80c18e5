// Included (`include!`) by the build scripts of the crates whose tests need something that
// is not in the repository: the public vectors beside it, or a browser. A test whose
// prerequisite is missing is compiled with `#[cfg_attr(not(<cfg>), ignore = "…")]`, so
// `cargo test` lists it as ignored, with the reason, and counts it in the summary instead of
// passing it silently. Under `CI=true` a missing prerequisite stops the build: CI never skips.

/// Declares `cfg(<cfg>)` and sets it when `present`.
fn prerequisite(cfg: &str, present: bool, what: &str) {
    println!("cargo::rustc-check-cfg=cfg({cfg})");
    println!("cargo::rerun-if-env-changed=CI");
    if present {
        println!("cargo::rustc-cfg={cfg}");
    } else if std::env::var("CI").is_ok_and(|v| v == "true") {
        eprintln!("{what} is missing, and under CI=true the tests that need it may not skip");
        std::process::exit(1);
    } else {
        println!("cargo::warning={what} is missing: the tests that need it are ignored");
    }
}

/// `cfg(sqrl_vectors)`: `../shared/sqrl/vectors` beside the repository (or
/// `$SQRL_SHARED_VECTORS`), with the community vectors cloned into its `sqrldev/`.
#[allow(dead_code)]
fn shared_vectors() {
    println!("cargo::rerun-if-env-changed=SQRL_SHARED_VECTORS");
    let dir = match std::env::var_os("SQRL_SHARED_VECTORS") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/sqrl/vectors"),
    };
    println!("cargo::rerun-if-changed={}", dir.display());
    prerequisite(
        "sqrl_vectors",
        dir.join("sqrldev").is_dir(),
        &format!(
            "{} (the public vectors, with sqrldev/sqrl-test-vectors cloned into its sqrldev/)",
            dir.display()
        ),
    );
}

/// `cfg(sqrl_browser)`: Debian's chromium and chromedriver.
#[allow(dead_code)]
fn browser() {
    // A missing path makes cargo rerun this script at every build, which is what notices an
    // install; an existing one reruns it only when it changes.
    let found = |paths: &[&str]| match paths.iter().find(|p| std::path::Path::new(p).exists()) {
        Some(p) => {
            println!("cargo::rerun-if-changed={p}");
            true
        }
        None => {
            paths.iter().for_each(|p| println!("cargo::rerun-if-changed={p}"));
            false
        }
    };
    let driver = found(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]);
    let browser = found(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]);
    prerequisite(
        "sqrl_browser",
        driver && browser,
        "chromium and chromedriver (Debian's chromium and chromium-driver)",
    );
}

/// `cfg(sqrl_authlib)`: CPython with Authlib and requests (PyPI), the independent relying
/// party of the OpenID Connect tests.
#[allow(dead_code)]
fn python_authlib() {
    println!("cargo::rerun-if-env-changed=PATH");
    let present = std::process::Command::new("python3")
        .args(["-c", "import authlib, requests"])
        .output()
        .is_ok_and(|o| o.status.success());
    prerequisite(
        "sqrl_authlib",
        present,
        "python3 with Authlib and requests (pip install authlib requests)",
    );
}

/// `cfg(sqrl_proxies)`: Debian's nginx and caddy, the reverse proxies of the forward-auth
/// tests.
#[allow(dead_code)]
fn proxies() {
    let nginx = std::path::Path::new("/usr/sbin/nginx");
    let caddy = std::path::Path::new("/usr/bin/caddy");
    println!("cargo::rerun-if-changed={}", nginx.display());
    println!("cargo::rerun-if-changed={}", caddy.display());
    prerequisite(
        "sqrl_proxies",
        nginx.exists() && caddy.exists(),
        "nginx and caddy (Debian's nginx and caddy packages)",
    );
}

/// `cfg(sqrl_apache_oidc)`: Debian's apache2 and libapache2-mod-auth-openidc, a relying party
/// of the OpenID Connect tests.
#[allow(dead_code)]
fn apache_oidc() {
    let apache = std::path::Path::new("/usr/sbin/apache2");
    let module = std::path::Path::new("/usr/lib/apache2/modules/mod_auth_openidc.so");
    println!("cargo::rerun-if-changed={}", apache.display());
    println!("cargo::rerun-if-changed={}", module.display());
    prerequisite(
        "sqrl_apache_oidc",
        apache.exists() && module.exists(),
        "apache2 with mod_auth_openidc (Debian's apache2 and libapache2-mod-auth-openidc)",
    );
}
