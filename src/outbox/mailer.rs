//! Mail transports: `.eml` files in the data directory (the embedded default: nothing to
//! install) or an SMTP server through lettre.

use super::OutboxError;
use super::eml_files::EmlFiles;
use crate::config::Config;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};
use secrecy::{ExposeSecret as _, SecretString};
use std::path::PathBuf;
use std::time::Duration;

/// Where emails go, and their From.
#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
    /// For logs: the directory, or the SMTP URL without its password.
    description: String,
}

#[derive(Clone)]
enum Transport {
    File { dir: PathBuf, files: EmlFiles },
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .field("transport", &self.description)
            .finish()
    }
}

fn parse_from(from: &str) -> Result<Mailbox, OutboxError> {
    from.parse().map_err(
        |e: lettre::address::AddressError| OutboxError::InvalidAddress {
            field: "from",
            value: from.to_owned(),
            reason: e.to_string(),
        },
    )
}

impl Mailer {
    /// Writes each email as `<dir>/<outbox id>.eml` (RFC 5322). Creates `dir`.
    pub fn file(dir: impl Into<PathBuf>, from: &str) -> Result<Mailer, OutboxError> {
        let dir = dir.into();
        crate::private_files::private_dir(&dir)
            .map_err(|e| OutboxError::Mailer(format!("{}: {e}", dir.display())))?;
        let files = EmlFiles::start(dir.clone())
            .map_err(|e| OutboxError::Mailer(format!("{}: {e}", dir.display())))?;
        Ok(Mailer {
            from: parse_from(from)?,
            description: format!(".eml files in {}", dir.display()),
            transport: Transport::File { dir, files },
        })
    }

    /// Sends through the SMTP server at `url`: `smtp://host:port` (plain),
    /// `smtp://host:port?tls=required` (STARTTLS), `smtps://host:port` (TLS), with
    /// `user:password@` for AUTH. Connects on first use, not here.
    pub fn smtp(url: &SecretString, from: &str) -> Result<Mailer, OutboxError> {
        let url = url.expose_secret();
        // lettre's message quotes no part of the URL; ours names it without password.
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| {
                OutboxError::Mailer(format!("SMTP URL {}: {e}", crate::store::redact_url(url)))
            })?
            .timeout(Some(Duration::from_secs(30)))
            .build();
        Ok(Mailer {
            from: parse_from(from)?,
            description: format!("SMTP {}", crate::store::redact_url(url)),
            transport: Transport::Smtp(transport),
        })
    }

    /// SMTP when `ROLLCALL_SMTP_URL` is set, else files under `<data-dir>/outbox/`.
    pub fn from_config(config: &Config) -> Result<Mailer, OutboxError> {
        match &config.outbox.smtp_url {
            Some(url) => Mailer::smtp(url, &config.outbox.mail_from),
            None => Mailer::file(config.data_dir.join("outbox"), &config.outbox.mail_from),
        }
    }

    /// The From of every email.
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// The transport, for logs (never a password).
    pub fn describe(&self) -> &str {
        &self.description
    }

    /// Hands one message over. `Ok` means the SMTP server accepted it (`250` after
    /// `DATA`) or the file is durably in place.
    pub(super) async fn send(
        &self,
        outbox_id: &str,
        message: lettre::Message,
    ) -> Result<(), String> {
        match &self.transport {
            Transport::Smtp(smtp) => smtp
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Transport::File { dir, files } => files
                .write(outbox_id, message.formatted())
                .await
                .map_err(|e| format!("cannot write to {}: {e}", dir.display())),
        }
    }
}
