//! `rollcall keys ...`: the keys that sign session access tokens, and the master key
//! that seals the secrets stored in the database.

use super::{CliError, KeysCommand};
use crate::config::{Config, MasterKeySource};
use crate::sso::session;
use crate::store::seal::MasterKey;
use crate::store::{Store, sealed_columns};
use secrecy::{ExposeSecret as _, SecretString};
use std::path::{Path, PathBuf};

pub(super) async fn run(config: Config, cmd: KeysCommand) -> Result<(), CliError> {
    let now = time::OffsetDateTime::now_utc();
    let store = crate::app::open_store(&config, &crate::clock::format_timestamp(now)).await?;
    let result = match cmd {
        KeysCommand::Rotate => rotate(&store, now).await,
        KeysCommand::List => list(&store).await,
        KeysCommand::RotateMaster {
            new_master_key_file,
        } => rotate_master(&config, &store, new_master_key_file).await,
    };
    store.close().await;
    result
}

async fn rotate(store: &Store, now: time::OffsetDateTime) -> Result<(), CliError> {
    let (kid, old) = session::rotate_signing_key(store, now)
        .await
        .map_err(|e| CliError(e.to_string()))?;
    match old {
        Some(old) => eprintln!(
            "key {kid} now signs new access tokens; key {old} stays published until the \
             tokens it signed have expired"
        ),
        None => eprintln!("key {kid} now signs new access tokens"),
    }
    println!("{kid}");
    Ok(())
}

async fn list(store: &Store) -> Result<(), CliError> {
    let mut tx = store.read().await?;
    let keys = crate::store::sessions::all_keys(&mut tx).await?;
    drop(tx);
    for k in keys {
        let state = match (&k.retired, k.signer) {
            (_, true) => "signer".to_owned(),
            (Some(at), false) => format!("retired {at}"),
            (None, false) => "unused".to_owned(),
        };
        println!("{}\t{}\tcreated {}\t{state}", k.kid, k.alg, k.created);
    }
    Ok(())
}

/// The new master key's text: `--new-master-key-file`, else `ROLLCALL_NEW_MASTER_KEY`.
fn new_key_text(file: Option<PathBuf>) -> Result<SecretString, CliError> {
    match (file, super::env_secret("ROLLCALL_NEW_MASTER_KEY")) {
        (Some(_), Some(_)) => Err(CliError(
            "both --new-master-key-file and ROLLCALL_NEW_MASTER_KEY are given: give one".into(),
        )),
        (Some(path), None) => std::fs::read_to_string(&path)
            .map(SecretString::from)
            .map_err(|e| {
                CliError(format!(
                    "cannot read the new master key file {}: {e}",
                    path.display()
                ))
            }),
        (None, Some(text)) => Ok(text),
        (None, None) => Err(CliError(
            "give the new master key: --new-master-key-file PATH or ROLLCALL_NEW_MASTER_KEY".into(),
        )),
    }
}

async fn rotate_master(
    config: &Config,
    store: &Store,
    new_file: Option<PathBuf>,
) -> Result<(), CliError> {
    let text = new_key_text(new_file)?;
    let new = MasterKey::from_base64(text.expose_secret())
        .map_err(|e| CliError(format!("invalid new master key: {e}")))?;
    let old = &config.master_key;
    if new.id() == old.id() {
        return Err(CliError(format!(
            "the new master key is the current one ({})",
            old.id()
        )));
    }
    let mut tx = store.write().await?;
    let counts = sealed_columns::reseal(&mut tx, old, &new).await?;
    tx.commit().await?;
    for (column, n) in &counts {
        println!("{}\t{n} re-sealed", column.name());
    }
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    println!(
        "master key {} -> {}\t{total} values re-sealed",
        old.id(),
        new.id()
    );
    match &config.master_key_source {
        // The embedded default reads its key from the data directory: the new key takes
        // its place there, so the next start uses it without further action.
        MasterKeySource::DataDir(path) => {
            replace_key_file(path, &text).map_err(|e| {
                CliError(format!(
                    "the secrets are sealed with the new master key {}, but {} could not be \
                     replaced ({e}): copy the new key file there before starting rollcall",
                    new.id(),
                    path.display()
                ))
            })?;
            eprintln!("{} now holds the new master key", path.display());
        }
        MasterKeySource::Environment | MasterKeySource::File(_) => eprintln!(
            "start rollcall with the new master key from now on (ROLLCALL_MASTER_KEY or \
             --master-key-file); the old key opens nothing any more"
        ),
    }
    Ok(())
}

/// Writes `text` to `path` (0600), replacing it in one rename.
fn replace_key_file(path: &Path, text: &SecretString) -> std::io::Result<()> {
    use std::io::Write as _;
    let tmp = path.with_extension("new");
    let mut f = crate::private_files::create_private(&tmp)?;
    writeln!(f, "{}", text.expose_secret().trim())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}
