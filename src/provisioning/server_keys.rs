//! Random server-wide keys kept in `server_secrets`, shared by every process: the one
//! place that creates and reads them, so sealing the table at rest changes one path.

use super::Error;
use crate::clock::format_timestamp;
use crate::store::Store;
use crate::store::effects as sql;
use time::OffsetDateTime;

/// The 32-byte key stored under `name`, created on first start. Processes racing to
/// create it all end up with the one stored first.
pub async fn load_or_create(
    store: &Store,
    name: &str,
    now: OffsetDateTime,
) -> Result<Vec<u8>, Error> {
    let mut fresh = [0u8; 32];
    getrandom::fill(&mut fresh).map_err(|e| Error::Internal(format!("random: {e}")))?;
    let mut tx = store.write().await?;
    let stored =
        sql::secret_or_insert(&mut tx, name, &hex::encode(fresh), &format_timestamp(now)).await?;
    tx.commit().await?;
    hex::decode(stored).map_err(|_| Error::Internal(format!("the stored {name} is not hex")))
}
