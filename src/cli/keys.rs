//! `rollcall keys ...`: the keys that sign session access tokens.

use super::{CliError, KeysCommand};
use crate::config::Config;
use crate::sso::session;
use crate::store::Store;

pub(super) async fn run(config: Config, cmd: KeysCommand) -> Result<(), CliError> {
    let store = Store::connect_with(config.database_url(), config.sqlite_synchronous).await?;
    store.migrate().await?;
    let now = time::OffsetDateTime::now_utc();
    crate::provisioning::fold_keys::refold_keys(&store, &crate::clock::format_timestamp(now))
        .await?;
    let result = match cmd {
        KeysCommand::Rotate => rotate(&store, now).await,
        KeysCommand::List => list(&store).await,
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
