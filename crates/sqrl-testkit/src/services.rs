//! Throwaway services for tests: a PostgreSQL cluster made with `initdb` in a temporary
//! directory and a `redis-server`, each on a free loopback port, stopped and deleted when
//! dropped. Nothing assumes a running service; a missing binary is an error that says which
//! Debian package to install (`.ci/run` installs them).
//!
//! PostgreSQL refuses to run as root: as root, the commands run as the `postgres` user that
//! Debian's package creates.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::wait::wait_until;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A free TCP port on 127.0.0.1 (free when asked; the service binds it right after).
fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

fn temp_dir(kind: &str) -> Result<PathBuf, String> {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("sqrl-{kind}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

fn wait_for_port(port: u16, what: &str, limit: Duration) -> Result<(), String> {
    if wait_until(limit, || TcpStream::connect(("127.0.0.1", port)).is_ok()) {
        return Ok(());
    }
    Err(format!(
        "{what} did not listen on port {port} within {limit:?}"
    ))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// Finds a PostgreSQL server binary on PATH or in Debian's versioned directories.
fn pg_binary(name: &str) -> Result<PathBuf, String> {
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.path().join("bin").join(name))
                .collect()
        })
        .unwrap_or_default();
    debian.sort();
    debian.reverse();
    on_path
        .into_iter()
        .chain(debian)
        .find(|p| p.is_file())
        .ok_or_else(|| format!("{name} not found: install PostgreSQL (apt-get install postgresql)"))
}

/// Runs a PostgreSQL tool (as `postgres` when we are root).
fn pg_command(binary: &Path, root: bool) -> Command {
    if root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(binary);
        command
    } else {
        Command::new(binary)
    }
}

/// A throwaway PostgreSQL cluster.
#[derive(Debug)]
pub struct Postgres {
    dir: PathBuf,
    pg_ctl: PathBuf,
    root: bool,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Postgres {
    /// Makes a cluster with `initdb` (user `sqrl`, trust authentication on loopback) and
    /// starts it on a free port.
    pub fn start() -> Result<Self, String> {
        let initdb = pg_binary("initdb")?;
        let pg_ctl = pg_binary("pg_ctl")?;
        let root = is_root();
        let dir = temp_dir("postgres")?;
        if root {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !status.success() {
                return Err("cannot hand the data directory to the postgres user (is the postgresql package installed?)".into());
            }
        }
        let data = dir.join("data");
        let out = pg_command(&initdb, root)
            .args([
                "-U",
                "sqrl",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&data)
            .stdout(Stdio::null())
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let port = free_port()?;
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            dir.display()
        );
        let out = pg_command(&pg_ctl, root)
            .args(["-w", "-t", "60", "-l"])
            .arg(dir.join("log"))
            .arg("-D")
            .arg(&data)
            .args(["-o", &options, "start"])
            .stdout(Stdio::null())
            .output()
            .map_err(|e| format!("pg_ctl: {e}"))?;
        if !out.status.success() {
            let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
            return Err(format!("PostgreSQL did not start: {log}"));
        }
        wait_for_port(port, "PostgreSQL", Duration::from_secs(30))?;
        Ok(Self {
            dir,
            pg_ctl,
            root,
            port,
        })
    }

    /// The connection URL of database `postgres` as user `sqrl`.
    pub fn url(&self) -> String {
        format!("postgres://sqrl@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server at once (as a crash would), keeping the data.
    pub fn kill(&self) {
        let _ = pg_command(&self.pg_ctl, self.root)
            .args(["-m", "immediate", "-D"])
            .arg(self.dir.join("data"))
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A throwaway `redis-server` (no persistence).
#[derive(Debug)]
pub struct Redis {
    child: Child,
    dir: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Redis {
    /// Starts `redis-server` on a free loopback port.
    pub fn start() -> Result<Self, String> {
        let dir = temp_dir("redis")?;
        let port = free_port()?;
        let child = Self::spawn(port, &dir)?;
        let redis = Self { child, dir, port };
        wait_for_port(port, "redis-server", Duration::from_secs(20))?;
        Ok(redis)
    }

    /// Kills it (SIGKILL: a crash, or a lost host); its port then refuses connections.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again, empty, on the same port (after [`kill`](Self::kill)).
    pub fn restart(&mut self) -> Result<(), String> {
        self.kill();
        self.child = Self::spawn(self.port, &self.dir)?;
        wait_for_port(self.port, "redis-server", Duration::from_secs(20))
    }

    fn spawn(port: u16, dir: &Path) -> Result<Child, String> {
        Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("redis-server: {e}: install Redis (apt-get install redis-server)"))
    }

    /// The connection URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
