//! `rollcall org ...`, `rollcall token ...` and `rollcall admin-token ...`: print results
//! alone on stdout.

use super::{CliError, OrgCommand, TokenCommand};
use crate::clock::format_timestamp;
use crate::config::Config;
use crate::secrets;
use crate::store::tokens::TokenKind;
use crate::store::{Store, orgs, tokens};

async fn open(config: &Config) -> Result<Store, CliError> {
    Ok(crate::app::open_store(config, &now()).await?)
}

fn now() -> String {
    format_timestamp(time::OffsetDateTime::now_utc())
}

fn timestamp() -> crate::clock::Timestamp {
    time::OffsetDateTime::now_utc().into()
}

async fn find_org(store: &Store, name_or_id: &str) -> Result<orgs::Org, CliError> {
    let mut tx = store.read().await?;
    orgs::find(&mut tx, name_or_id)
        .await?
        .ok_or_else(|| CliError(format!("no organization named or with id {name_or_id:?}")))
}

pub(super) async fn migrate(config: Config) -> Result<(), CliError> {
    let store = open(&config).await?;
    store.close().await;
    eprintln!("migrations applied");
    Ok(())
}

pub(super) async fn org(config: Config, cmd: OrgCommand) -> Result<(), CliError> {
    let store = open(&config).await?;
    match cmd {
        OrgCommand::Create { name, seats } => {
            let (org, _) = crate::provisioning::orgs::create_org(
                &store,
                &name,
                seats.map(i64::from),
                &timestamp(),
            )
            .await
            .map_err(|e| CliError(e.to_string()))?;
            println!("{}", org.id);
        }
    }
    store.close().await;
    Ok(())
}

/// SCIM or admin tokens: the same commands over the kind's own table.
pub(super) async fn token(
    config: Config,
    kind: TokenKind,
    cmd: TokenCommand,
) -> Result<(), CliError> {
    let prefix = match kind {
        TokenKind::Scim => secrets::SCIM_TOKEN_PREFIX,
        TokenKind::Admin => secrets::ADMIN_TOKEN_PREFIX,
    };
    let store = open(&config).await?;
    match cmd {
        TokenCommand::Create { org, label } => {
            let org = find_org(&store, &org).await?;
            let token = secrets::new_token(prefix)
                .map_err(|e| CliError(format!("cannot generate a token: {e}")))?;
            let info = tokens::TokenInfo {
                id: uuid::Uuid::new_v4().to_string(),
                org_id: org.id,
                label,
                created: timestamp(),
                revoked: None,
            };
            let mut tx = store.write().await?;
            tokens::insert_kind(&mut tx, kind, &info, &secrets::token_hash(&token)).await?;
            tx.commit().await?;
            println!("{token}");
        }
        TokenCommand::List { org } => {
            let org = find_org(&store, &org).await?;
            let mut tx = store.read().await?;
            for t in tokens::list_kind(&mut tx, kind, &org.id).await? {
                let state = t
                    .revoked
                    .map_or("active".to_owned(), |at| format!("revoked {at}"));
                println!("{}\t{}\t{}\t{}", t.id, t.label, t.created, state);
            }
        }
        TokenCommand::Revoke { id } => {
            let mut tx = store.write().await?;
            if !tokens::revoke_kind(&mut tx, kind, &id, &now()).await? {
                return Err(CliError(format!("no active token with id {id:?}")));
            }
            tx.commit().await?;
            println!("revoked {id}");
        }
    }
    store.close().await;
    Ok(())
}
