//! Rows and statements.

use std::net::IpAddr;

use rusqlite::{params, Connection, OptionalExtension};
use sqrl_proto::Bytes32;
use sqrl_server::useragent::BrowserInfo;
use sqrl_server::{
    Account, AccountChange, AccountGuard, AccountId, End, Flow, FlowId, FlowRecord, Phase,
    PhaseData, Session, StoreError,
};

pub(crate) fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn bad_column(what: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnType(0, what.into(), rusqlite::types::Type::Blob)
}

pub(crate) fn key32(bytes: Vec<u8>) -> rusqlite::Result<[u8; 32]> {
    bytes.try_into().map_err(|_| bad_column("32-byte key"))
}

fn id16(bytes: Vec<u8>) -> rusqlite::Result<[u8; 16]> {
    bytes.try_into().map_err(|_| bad_column("16-byte id"))
}

pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

pub(crate) const ACCOUNT_COLUMNS: &str =
    "uid, idk, suk, vuk, disabled, sqrlonly, hardlock, created_at, ins";

pub(crate) fn read_account(row: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: AccountId(id16(row.get(0)?)?),
        idk: Bytes32(key32(row.get(1)?)?),
        suk: Bytes32(key32(row.get(2)?)?),
        vuk: Bytes32(key32(row.get(3)?)?),
        disabled: row.get(4)?,
        sqrlonly: row.get(5)?,
        hardlock: row.get(6)?,
        created_at: to_u64(row.get(7)?),
        ins: row
            .get::<_, Option<Vec<u8>>>(8)?
            .map(key32)
            .transpose()?
            .map(Bytes32),
    })
}

pub(crate) fn account_by_idk(c: &Connection, idk: &Bytes32) -> Result<Option<Account>, StoreError> {
    c.prepare_cached(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE idk = ?1"
    ))
    .and_then(|mut s| s.query_row([idk.0.to_vec()], read_account).optional())
    .map_err(backend)
}

pub(crate) fn superseded(c: &Connection, idk: &Bytes32) -> Result<bool, StoreError> {
    c.prepare_cached("SELECT 1 FROM superseded WHERE idk = ?1")
        .and_then(|mut s| s.query_row([idk.0.to_vec()], |_| Ok(())).optional())
        .map(|found| found.is_some())
        .map_err(backend)
}

fn read_flow(row: &rusqlite::Row<'_>) -> rusqlite::Result<Flow> {
    let ip: String = row.get(3)?;
    // Read wide: a value that is no phase code (damaged data) reads as ended, not as a
    // failed read.
    let code = u8::try_from(row.get::<_, i64>(7)?).unwrap_or(u8::MAX);
    let account = match code {
        1 => Some(AccountId(id16(
            row.get::<_, Option<Vec<u8>>>(8)?.unwrap_or_default(),
        )?)),
        _ => None,
    };
    let end = End::from_code(row.get(15)?);
    let data = PhaseData {
        account,
        cps: row.get(9)?,
        at: to_u64(row.get(10)?),
        end: Some(end),
    };
    // (An unknown code reads as an ended conversation, as it always has here.)
    let phase = Phase::from_code(code, data).unwrap_or(Phase::Ended(end));
    let cps_token_hash: Option<Vec<u8>> = row.get(14)?;
    Ok(Flow::from(FlowRecord {
        id: FlowId(id16(row.get(0)?)?),
        version: to_u64(row.get(1)?),
        issued_at: to_u64(row.get(2)?),
        browser_ip: ip.parse::<IpAddr>().unwrap_or(IpAddr::from([0, 0, 0, 0])),
        browser: BrowserInfo::from_codes(row.get(4)?, row.get(5)?),
        idk: Bytes32(key32(row.get(6)?)?),
        phase,
        expected_nut: row.get(11)?,
        reply_hash: key32(row.get(12)?)?,
        asked: row.get(13)?,
        cps_token_hash: cps_token_hash.map(key32).transpose()?,
    }))
}

const FLOW_COLUMNS: &str = "id, version, issued_at, browser_ip, browser, os, idk, phase, account, \
                            cps, confirmed_at, expected_nut, reply_hash, asked, cps_token_hash, ended";

pub(crate) fn flow_by_id(c: &Connection, id: &FlowId) -> Result<Option<Flow>, StoreError> {
    c.prepare_cached(&format!("SELECT {FLOW_COLUMNS} FROM flows WHERE id = ?1"))
        .and_then(|mut s| s.query_row([id.0.to_vec()], read_flow).optional())
        .map_err(backend)
}

/// Writes `flow` if the stored version is still `expected`.
pub(crate) fn put_flow(
    tx: &Connection,
    flow: &Flow,
    expected: Option<u64>,
) -> Result<(), StoreError> {
    let flow = flow.record();
    let current: Option<i64> = tx
        .prepare_cached("SELECT version FROM flows WHERE id = ?1")
        .and_then(|mut s| s.query_row([flow.id.0.to_vec()], |r| r.get(0)).optional())
        .map_err(backend)?;
    if current.map(to_u64) != expected {
        return Err(StoreError::Conflict);
    }
    let data = flow.phase.data();
    tx.prepare_cached(&format!(
        "INSERT OR REPLACE INTO flows ({FLOW_COLUMNS}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
    ))
    .and_then(|mut s| {
        s.execute(params![
            flow.id.0.to_vec(),
            to_i64(flow.version),
            to_i64(flow.issued_at),
            flow.browser_ip.to_string(),
            flow.browser.browser as u8,
            flow.browser.os as u8,
            flow.idk.0.to_vec(),
            flow.phase.code(),
            data.account.map(|a| a.0.to_vec()),
            data.cps,
            to_i64(data.at),
            flow.expected_nut,
            flow.reply_hash.to_vec(),
            flow.asked,
            flow.cps_token_hash.map(|h| h.to_vec()),
            data.end.map_or(0, End::code),
        ])
    })
    .map(|_| ())
    .map_err(backend)
}

/// Checks that every guarded account is still as the decision read it.
pub(crate) fn check(tx: &Connection, guards: &[AccountGuard]) -> Result<(), StoreError> {
    for guard in guards {
        let account = account_by_idk(tx, &guard.idk)?;
        let gone = guard
            .superseded
            .map(|expected| superseded(tx, &guard.idk).map(|s| s != expected))
            .transpose()?
            .unwrap_or(false);
        if account != guard.account || gone {
            return Err(StoreError::Conflict);
        }
    }
    Ok(())
}

pub(crate) fn apply(tx: &Connection, change: &AccountChange) -> Result<(), StoreError> {
    let put = |a: &Account| {
        // An upsert by account id that leaves the site's own columns (display_name) alone.
        tx.prepare_cached(
            "INSERT INTO accounts (uid, idk, suk, vuk, disabled, sqrlonly, hardlock, created_at, ins)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT(uid) DO UPDATE SET idk = excluded.idk, suk = excluded.suk,
               vuk = excluded.vuk, disabled = excluded.disabled, sqrlonly = excluded.sqrlonly,
               hardlock = excluded.hardlock, ins = excluded.ins",
        )
        .and_then(|mut s| {
            s.execute(params![
                a.id.0.to_vec(),
                a.idk.0.to_vec(),
                a.suk.0.to_vec(),
                a.vuk.0.to_vec(),
                a.disabled,
                a.sqrlonly,
                a.hardlock,
                to_i64(a.created_at),
                a.ins.map(|i| i.0.to_vec())
            ])
        })
        .map_err(backend)
    };
    match change {
        AccountChange::Keep => {}
        AccountChange::Put(account) => {
            put(account)?;
        }
        AccountChange::Rekey { previous, account } => {
            put(account)?;
            tx.execute(
                "INSERT OR REPLACE INTO superseded (idk, replaced_by) VALUES (?1, ?2)",
                params![previous.0.to_vec(), account.idk.0.to_vec()],
            )
            .map_err(backend)?;
        }
        AccountChange::Remove(id) => {
            tx.execute("DELETE FROM accounts WHERE uid = ?1", [id.0.to_vec()])
                .map_err(backend)?;
            tx.execute("DELETE FROM sessions WHERE account = ?1", [id.0.to_vec()])
                .map_err(backend)?;
        }
    }
    Ok(())
}

pub(crate) fn create_session(tx: &Connection, s: &Session) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO sessions (id_hash, account, created_at, ip, browser) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut st| {
        st.execute(params![
            s.id_hash.to_vec(),
            s.account.0.to_vec(),
            to_i64(s.created_at),
            s.ip,
            s.browser
        ])
    })
    .map(|_| ())
    .map_err(backend)
}

pub(crate) fn read_session(row: &rusqlite::Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id_hash: key32(row.get(0)?)?,
        account: AccountId(id16(row.get(1)?)?),
        created_at: to_u64(row.get(2)?),
        ip: row.get(3)?,
        browser: row.get(4)?,
    })
}
