//! `rollcall serve`.

use super::CliError;
use crate::app::App;
use crate::config::Config;

pub(super) async fn run(config: Config) -> Result<(), CliError> {
    let app = App::build(config)
        .await
        .map_err(|e| CliError(e.to_string()))?;
    tracing::info!(address = %app.address(), "rollcall listening");
    app.run_until_stopped(crate::app::shutdown_signal())
        .await
        .map_err(|e| CliError(format!("server failed: {e}")))
}
