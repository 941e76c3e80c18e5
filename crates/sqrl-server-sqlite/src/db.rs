//! The database's threads: one writer that commits in groups, and a few readers.
//!
//! Every write is a job for the writer thread. The writer takes the jobs that are waiting
//! (up to [`MAX_BATCH`]), runs each inside its own `SAVEPOINT` of one `BEGIN IMMEDIATE`
//! transaction, commits once (one fsync for the whole group, `synchronous=FULL`) and only then
//! answers each job — with its own result, or with the commit's error if the commit failed. A
//! job that fails (a version conflict, say) rolls back to its savepoint and changes nothing;
//! the others in the group are not affected. Under load, jobs queue while the previous group
//! is being synced, so the next group is larger: durability costs one fsync per group, not per
//! login.
//!
//! A write is *durable* (the default: its group commits with `synchronous=FULL`, so it is on
//! disk before it is acknowledged) or *lazy* ([`Db::write_lazy`]: a group of lazy writes only
//! commits with `synchronous=NORMAL`, which survives a crash of the process but not a power
//! loss until the next durable commit or checkpoint syncs the journal). A group that holds
//! one durable write is synced whole, the lazy writes in it too.
//!
//! A group of one write runs without a savepoint (a failure rolls the whole transaction
//! back, which is the same thing), and the transaction's own statements are prepared once.
//!
//! Checkpoints (copying the write-ahead log back into the database file, with two fsyncs)
//! run on a thread of their own, at most every [`CHECKPOINT_EVERY`] while there are new
//! commits, so that the writer never stops for them and every lazy write reaches the disk
//! within about that time. Should that thread fall behind, the writer checkpoints by itself
//! once the log holds [`BACKSTOP_PAGES`] pages.
//!
//! Reads run on tokio's blocking pool on their own connections (WAL lets them proceed while
//! the writer writes). An in-memory database has no second connection, so its reads go to
//! the writer too.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;
use sqrl_server::StoreError;

use crate::schema;

/// Most jobs committed together.
pub const MAX_BATCH: usize = 128;
/// Most idle reader connections kept.
const MAX_IDLE_READERS: usize = 8;
/// The checkpointer's rest between two checkpoints: the longest a lazy write waits for an
/// fsync while writes keep coming.
pub(crate) const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);
/// Pages in the write-ahead log at which the writer checkpoints by itself (SQLite's
/// `wal_autocheckpoint`): a backstop should the checkpointer fall behind (about 80 MB).
pub(crate) const BACKSTOP_PAGES: u32 = 20_000;
/// Prepared statements kept per connection (rusqlite keeps 16 by default; the writer runs
/// more kinds of statement than that).
const STATEMENT_CACHE: usize = 64;

type Finish = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// A write: runs on the writer's connection inside the group's transaction and returns what
/// to do once the group's commit is known.
trait Job: Send {
    /// The job must be on disk before it is acknowledged.
    fn durable(&self) -> bool;
    /// Runs the work, inside a savepoint of its own unless it is `alone` in its group (then
    /// the caller rolls the transaction back if it failed). Whether it succeeded, and what to
    /// do once the group's fate is known.
    fn run(self: Box<Self>, connection: &Connection, alone: bool) -> (bool, Finish);
    fn fail(self: Box<Self>, error: StoreError);
}

/// Runs one statement without parameters or rows, prepared once per connection.
fn exec(connection: &Connection, sql: &str) -> rusqlite::Result<()> {
    connection.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// What to do on the writer thread once a job's group has committed or failed, before the
/// job is answered.
type After = Box<dyn FnOnce() + Send>;

struct WriteJob<F, T> {
    work: F,
    durable: bool,
    after: Option<After>,
    reply: tokio::sync::oneshot::Sender<Result<T, StoreError>>,
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::backend(e)
}

impl<F, T> Job for WriteJob<F, T>
where
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
    T: Send + 'static,
{
    fn durable(&self) -> bool {
        self.durable
    }

    fn run(self: Box<Self>, connection: &Connection, alone: bool) -> (bool, Finish) {
        let result = if alone {
            (self.work)(connection)
        } else {
            match exec(connection, "SAVEPOINT job") {
                Err(e) => Err(backend(e)),
                Ok(()) => {
                    let result = (self.work)(connection);
                    let ended = if result.is_ok() {
                        exec(connection, "RELEASE job")
                    } else {
                        exec(connection, "ROLLBACK TO job")
                            .and_then(|()| exec(connection, "RELEASE job"))
                    };
                    match ended {
                        Ok(()) => result,
                        Err(e) => Err(backend(e)),
                    }
                }
            }
        };
        let (reply, after) = (self.reply, self.after);
        let ok = result.is_ok();
        let finish: Finish = Box::new(move |committed| {
            if let Some(after) = after {
                after();
            }
            let _ = reply.send(committed.and(result));
        });
        (ok, finish)
    }

    fn fail(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }
}

/// The writer thread and the reader connections of one database.
pub(crate) struct Db {
    jobs: mpsc::Sender<Box<dyn Job>>,
    groups: Arc<AtomicU64>,
    readers: Option<Readers>,
    /// The lock that makes this process the file's only user, held while the store lives.
    _owner: Option<std::fs::File>,
}

struct Readers {
    path: std::path::PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Db {
    /// Opens `path` (or a private in-memory database), migrates it and starts the writer.
    ///
    /// A file is first claimed with an exclusive lock on `<path>-lock`: a second store on the
    /// same file, in this process or another, is refused while the first one lives.
    pub(crate) fn open(path: Option<&Path>) -> Result<Arc<Self>, StoreError> {
        let owner = path.map(claim).transpose()?;
        let mut writer = match path {
            Some(path) => Connection::open(path).map_err(backend)?,
            None => Connection::open_in_memory().map_err(backend)?,
        };
        schema::init(&mut writer)?;
        writer.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let checkpoints = match path {
            Some(path) => {
                writer
                    .execute_batch(&format!("PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}"))
                    .map_err(backend)?;
                let connection = schema::checkpointer(path)?;
                let (wake, woken) = mpsc::sync_channel::<()>(1);
                std::thread::Builder::new()
                    .name("sqlite-checkpoint".into())
                    .spawn(move || checkpoint_loop(&connection, &woken))
                    .map_err(StoreError::backend)?;
                Some(wake)
            }
            None => None,
        };
        let (tx, rx) = mpsc::channel::<Box<dyn Job>>();
        let groups = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&groups);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || write_loop(&writer, &rx, &counter, checkpoints.as_ref()))
            .map_err(StoreError::backend)?;
        Ok(Arc::new(Self {
            jobs: tx,
            groups,
            readers: path.map(|path| Readers {
                path: path.to_owned(),
                idle: Mutex::new(Vec::new()),
            }),
            _owner: owner,
        }))
    }

    /// How many group commits the writer has made.
    pub(crate) fn groups(&self) -> u64 {
        self.groups.load(Ordering::Relaxed)
    }

    /// Runs `work` on the writer, in a group commit; its result once the group is durable.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.submit(work, true, None).await
    }

    /// [`Db::write`], then `after` on the writer thread once the group has committed (or
    /// failed), before the write is answered: it runs even if the caller stopped waiting.
    pub(crate) async fn write_then<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        after: impl FnOnce() + Send + 'static,
    ) -> Result<T, StoreError> {
        self.submit(work, true, Some(Box::new(after))).await
    }

    /// [`Db::write`] for a write that may be lost with a power failure (not with a crash of
    /// the process) until a later durable write or checkpoint syncs it: a new session, say,
    /// whose loss only means logging in again.
    pub(crate) async fn write_lazy<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.submit(work, false, None).await
    }

    async fn submit<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        durable: bool,
        after: Option<After>,
    ) -> Result<T, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Box<dyn Job> = Box::new(WriteJob {
            work,
            durable,
            after,
            reply,
        });
        self.jobs
            .send(job)
            .map_err(|_| StoreError::backend("the database writer stopped"))?;
        answer
            .await
            .map_err(|_| StoreError::backend("the database writer stopped"))?
    }

    /// Runs `work` on a reader connection on the blocking pool (on the writer for an
    /// in-memory database).
    pub(crate) async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        if self.readers.is_none() {
            return self.write(work).await;
        }
        let db = Arc::clone(self);
        tokio::task::spawn_blocking(move || db.read_blocking(work))
            .await
            .map_err(StoreError::backend)?
    }

    /// [`Db::read`] on the calling thread.
    pub(crate) fn read_blocking<T>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let Some(readers) = &self.readers else {
            return Err(StoreError::backend("no reader for an in-memory database"));
        };
        let idle = readers
            .idle
            .lock()
            .map_err(|_| StoreError::backend("poisoned lock"))?
            .pop();
        let connection = match idle {
            Some(connection) => connection,
            None => schema::reader(&readers.path)?,
        };
        let result = work(&connection);
        if let Ok(mut idle) = readers.idle.lock() {
            if idle.len() < MAX_IDLE_READERS {
                idle.push(connection);
            }
        }
        result
    }
}

/// Takes the exclusive lock on `<path>-lock` (created if missing), or says who holds it.
fn claim(path: &Path) -> Result<std::fs::File, StoreError> {
    let mut name = path.as_os_str().to_owned();
    name.push("-lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&name)
        .map_err(|e| {
            StoreError::backend(format!("cannot open {}: {e}", Path::new(&name).display()))
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::backend(format!(
            "{} is in use by another store (another process, or another store in this one): \
             a SQLite database serves one process",
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::backend(format!(
            "cannot lock {}: {e}",
            Path::new(&name).display()
        ))),
    }
}

/// Checkpoints the write-ahead log each time the writer says it committed, then rests for
/// [`CHECKPOINT_EVERY`] (commits in the meantime ask for the next one). Ends with the writer.
fn checkpoint_loop(connection: &Connection, woken: &mpsc::Receiver<()>) {
    // Failures are logged at most once a minute, with how many there were.
    let mut last_line: Option<std::time::Instant> = None;
    let mut failed = 0u64;
    while woken.recv().is_ok() {
        // PASSIVE: copies what no reader still needs, never waits for readers or the writer.
        let done = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            row.get::<_, i64>(0)
        });
        if let Err(e) = done {
            failed = failed.saturating_add(1);
            if last_line.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
                tracing::warn!(error = %e, failed, "SQLite checkpoints failed; the writer checkpoints by itself past its backstop");
                last_line = Some(std::time::Instant::now());
                failed = 0;
            }
        }
        // This thread checkpoints on a period; it has no condition to wait for.
        #[allow(clippy::disallowed_methods)]
        std::thread::sleep(CHECKPOINT_EVERY);
    }
}

fn write_loop(
    connection: &Connection,
    jobs: &mpsc::Receiver<Box<dyn Job>>,
    groups: &AtomicU64,
    checkpoints: Option<&mpsc::SyncSender<()>>,
) {
    // The schema opens every connection with `synchronous=FULL`.
    let mut synced = true;
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        // A transaction left open by an earlier failure would swallow this group.
        if !connection.is_autocommit() {
            let _ = connection.execute_batch("ROLLBACK");
        }
        let durable = group.iter().any(|job| job.durable());
        if durable != synced {
            let pragma = if durable {
                "PRAGMA synchronous = FULL"
            } else {
                "PRAGMA synchronous = NORMAL"
            };
            // Should it fail, the setting stays as it was: FULL is always safe, and a durable
            // group retries it first.
            synced = match connection.execute_batch(pragma) {
                Ok(()) => durable,
                Err(e) => {
                    tracing::warn!(error = %e, "could not change SQLite's synchronous setting");
                    synced
                }
            };
            if durable && !synced {
                for job in group {
                    job.fail(StoreError::backend("cannot make the write durable"));
                }
                continue;
            }
        }
        if let Err(e) = exec(connection, "BEGIN IMMEDIATE") {
            let error = backend(e);
            for job in group {
                job.fail(error.clone());
            }
            continue;
        }
        let alone = group.len() == 1;
        let mut finishers: Vec<Finish> = Vec::with_capacity(group.len());
        let mut jobs_left = group.into_iter();
        let mut lost = None;
        // A job alone in its group has no savepoint: when it fails, the transaction is rolled
        // back instead of committed (its own error is its answer).
        let mut undo = false;
        for job in jobs_left.by_ref() {
            // A panicking job must not take the writer (and every later write) with it.
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                job.run(connection, alone)
            })) {
                Ok((ok, finish)) => {
                    undo = alone && !ok;
                    finishers.push(finish);
                }
                Err(_) => {
                    lost = Some("a database write panicked; its group was rolled back");
                    break;
                }
            }
            // SQLite may end the transaction by itself (a full disk, an I/O error): then
            // nothing of this group was kept, and the rest must not run in autocommit mode.
            if connection.is_autocommit() {
                lost = Some("SQLite rolled back the group's transaction");
                break;
            }
        }
        let committed = match lost {
            Some(reason) => {
                let _ = exec(connection, "ROLLBACK");
                tracing::error!("{reason}");
                Err(StoreError::backend(reason))
            }
            // Nothing to keep: the failed job answers with its own error.
            None if undo => exec(connection, "ROLLBACK").or_else(|e| {
                if connection.is_autocommit() {
                    Ok(())
                } else {
                    tracing::error!(error = %e, "a SQLite rollback failed");
                    Err(backend(e))
                }
            }),
            None => exec(connection, "COMMIT").map_err(|e| {
                let _ = exec(connection, "ROLLBACK");
                tracing::error!(error = %e, "a SQLite group commit failed; its writes were rolled back");
                backend(e)
            }),
        };
        if let (Ok(()), false, Some(wake)) = (&committed, undo, checkpoints) {
            // Full: a checkpoint is already due.
            let _ = wake.try_send(());
        }
        for job in jobs_left {
            job.fail(
                committed
                    .clone()
                    .err()
                    .unwrap_or_else(|| StoreError::backend("the group was rolled back")),
            );
        }
        groups.fetch_add(1, Ordering::Relaxed);
        for finish in finishers {
            finish(committed.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh, empty directory for one test's database.
    fn empty_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("sqrl-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A database in `dir` with one table, `t (n INTEGER PRIMARY KEY)`.
    async fn with_table(dir: &std::path::Path) -> Arc<Db> {
        let db = Db::open(Some(&dir.join("t.sqlite"))).unwrap();
        db.write(|c| {
            c.execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY)")
                .map_err(backend)
        })
        .await
        .unwrap();
        db
    }

    fn synchronous(c: &Connection) -> Result<i64, StoreError> {
        c.query_row("PRAGMA synchronous", [], |r| r.get(0))
            .map_err(backend)
    }

    /// Lazy writes alone commit with `synchronous=NORMAL` (1); a group holding one durable
    /// write commits whole with `FULL` (2), and a durable write alone too.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_group_is_synced_when_one_of_its_writes_must_be_durable() {
        let dir = empty_dir("lazy");
        let db = Db::open(Some(&dir.join("l.sqlite"))).unwrap();
        assert_eq!(db.write_lazy(synchronous).await.unwrap(), 1);
        assert_eq!(db.write(synchronous).await.unwrap(), 2);
        assert_eq!(db.write_lazy(synchronous).await.unwrap(), 1);
        // A lazy and a durable write queued behind a slow one share the next group.
        let slow = db.write_lazy(|_| {
            // Holding the writer busy is the point: writes queue up behind this one.
            #[allow(clippy::disallowed_methods)]
            std::thread::sleep(std::time::Duration::from_millis(200));
            Ok(())
        });
        let queued = async {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            tokio::join!(db.write_lazy(synchronous), db.write(synchronous))
        };
        let (slow, (lazy, durable)) = tokio::join!(slow, queued);
        slow.unwrap();
        assert_eq!((lazy.unwrap(), durable.unwrap()), (2, 2));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waiting_writes_commit_together_and_a_failed_one_changes_nothing() {
        let dir = empty_dir("group");
        let db = with_table(&dir).await;
        let before = db.groups();
        // The first write holds the writer while twenty more queue up behind it.
        let slow = db.write(|c| {
            // Holding the writer busy is the point: writes queue up behind this one.
            #[allow(clippy::disallowed_methods)]
            std::thread::sleep(std::time::Duration::from_millis(200));
            c.execute("INSERT INTO t VALUES (0)", []).map_err(backend)
        });
        let queued = async {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let writes = (1..=20).map(|n| {
                db.write(move |c| {
                    c.execute("INSERT INTO t VALUES (?1)", [n])
                        .map_err(backend)?;
                    if n == 7 {
                        // Fails after writing: its savepoint is rolled back.
                        return Err(StoreError::Conflict);
                    }
                    Ok(())
                })
            });
            futures_util::future::join_all(writes).await
        };
        let (slow, results) = tokio::join!(slow, queued);
        slow.unwrap();
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 19);
        assert_eq!(results[6], Err(StoreError::Conflict));
        assert_eq!(
            db.groups() - before,
            2,
            "one group for the first, one for the twenty"
        );
        let rows: i64 = db
            .read(|c| {
                c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
                    .map_err(backend)
            })
            .await
            .unwrap();
        assert_eq!(rows, 20, "the failed write left no row");

        // A job that panics fails its group, but the writer lives on.
        let (panicked, after) = tokio::join!(
            db.write(|_| -> Result<(), StoreError> { panic!("a bug in a job") }),
            async {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                db.write(|c| c.execute("INSERT INTO t VALUES (100)", []).map_err(backend))
                    .await
            }
        );
        assert!(panicked.is_err());
        let _ = after;
        db.write(|c| c.execute("INSERT INTO t VALUES (101)", []).map_err(backend))
            .await
            .expect("the writer survives a panicking job");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A write alone in its group runs without a savepoint: its failure must still undo what
    /// it wrote before failing, and the writer must go on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_write_alone_in_its_group_changes_nothing() {
        let dir = empty_dir("alone");
        let db = with_table(&dir).await;
        let failed = db
            .write(|c| {
                c.execute("INSERT INTO t VALUES (1)", []).map_err(backend)?;
                Err::<(), _>(StoreError::Conflict)
            })
            .await;
        assert_eq!(failed, Err(StoreError::Conflict));
        db.write_lazy(|c| c.execute("INSERT INTO t VALUES (2)", []).map_err(backend))
            .await
            .unwrap();
        let rows: Vec<i64> = db
            .read(|c| {
                let mut s = c.prepare("SELECT n FROM t ORDER BY n").map_err(backend)?;
                let rows = s.query_map([], |r| r.get(0)).map_err(backend)?;
                rows.collect::<Result<_, _>>().map_err(backend)
            })
            .await
            .unwrap();
        assert_eq!(
            rows,
            vec![2],
            "the failed write's row is gone, the next one kept"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Checkpoints run on their own thread soon after a commit, without waiting for the log
    /// to fill: a lazy write is copied into the database file (and synced) within a few
    /// rests of the checkpointer, with nothing written after it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lazy_write_reaches_the_database_file_without_further_writes() {
        let dir = empty_dir("ckpt");
        let file = dir.join("c.sqlite");
        let db = Db::open(Some(&file)).unwrap();
        let size = || std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        let before = size();
        // 2 MB: far below the writer's own checkpoint (SQLite's default would wait for 4 MB).
        db.write_lazy(|c| {
            c.execute_batch("CREATE TABLE big (b BLOB)")
                .map_err(backend)?;
            c.execute("INSERT INTO big VALUES (zeroblob(2000000))", [])
                .map_err(backend)
        })
        .await
        .unwrap();
        let deadline = std::time::Instant::now() + CHECKPOINT_EVERY * 20;
        while size() < before + 2_000_000 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            size() >= before + 2_000_000,
            "the database file holds the write: {} bytes",
            size()
        );
        drop(db);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
