//! An email as queued, and the RFC 5322 message built from it at delivery.

use super::OutboxError;
use lettre::message::{Mailbox, MultiPart, header::ContentType};
use serde::{Deserialize, Serialize};
use std::time::SystemTime;

/// An email to send. Stored as JSON in the outbox row; its bodies may carry invitation
/// links, so `Debug` shows neither body.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    /// `ada@example.com` or `Ada Lovelace <ada@example.com>`.
    pub to: String,
    pub subject: String,
    pub text_body: String,
    /// Sent as `multipart/alternative` with the text when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html_body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("reply_to", &self.reply_to)
            .finish_non_exhaustive()
    }
}

fn mailbox(field: &'static str, value: &str) -> Result<Mailbox, OutboxError> {
    value
        .parse::<Mailbox>()
        .map_err(|e| OutboxError::InvalidAddress {
            field,
            value: value.to_owned(),
            reason: e.to_string(),
        })
}

impl Email {
    /// Checks the addresses, so a bad one fails at enqueue, not at every retry.
    pub fn validate(&self) -> Result<(), OutboxError> {
        mailbox("to", &self.to)?;
        if let Some(r) = &self.reply_to {
            mailbox("reply-to", r)?;
        }
        Ok(())
    }

    /// The message. Its `Message-ID` derives from the outbox row, so a copy sent again
    /// after a crash (see the module docs) carries the same id and can be recognised.
    pub(super) fn message(
        &self,
        from: &Mailbox,
        outbox_id: &str,
        date: SystemTime,
    ) -> Result<lettre::Message, OutboxError> {
        let domain = from.email.domain();
        let mut builder = lettre::Message::builder()
            .from(from.clone())
            .to(mailbox("to", &self.to)?)
            .subject(self.subject.clone())
            .date(date)
            .message_id(Some(format!("<{outbox_id}@{domain}>")));
        if let Some(r) = &self.reply_to {
            builder = builder.reply_to(mailbox("reply-to", r)?);
        }
        let built = match &self.html_body {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                self.text_body.clone(),
                html.clone(),
            )),
            None => builder
                .header(ContentType::TEXT_PLAIN)
                .body(self.text_body.clone()),
        };
        built.map_err(|e| OutboxError::Encode(e.to_string()))
    }
}

/// What stays of an email's payload once it is delivered or given up: the recipient and
/// reply-to, for the audit. The subject and bodies go, since they may carry a sign-in
/// code or an invitation link; the row's dedupe key (`sign-in-code:<id>`,
/// `invite:<membership>` ...) still says what the email was.
pub(super) fn scrubbed_payload(payload: &str) -> String {
    let mut kept = serde_json::Map::new();
    if let Ok(serde_json::Value::Object(email)) = serde_json::from_str(payload) {
        for field in ["to", "reply_to"] {
            if let Some(v) = email.get(field) {
                kept.insert(field.to_owned(), v.clone());
            }
        }
    }
    kept.insert("scrubbed".to_owned(), serde_json::Value::Bool(true));
    serde_json::Value::Object(kept).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> Email {
        Email {
            to: "Ada Lovelace <ada@example.com>".into(),
            subject: "Welcome to Engineering".into(),
            text_body: "Accept: https://x.test/i/SECRET".into(),
            html_body: None,
            reply_to: Some("admins@example.com".into()),
        }
    }

    #[test]
    fn builds_an_rfc5322_message_with_a_stable_message_id() {
        let from: Mailbox = "rollcall <noreply@rollcall.test>".parse().unwrap();
        let text = String::from_utf8(
            email()
                .message(&from, "0190-abc", SystemTime::UNIX_EPOCH)
                .unwrap()
                .formatted(),
        )
        .unwrap();
        assert!(
            text.contains("Message-ID: <0190-abc@rollcall.test>"),
            "{text}"
        );
        assert!(
            text.contains("To: \"Ada Lovelace\" <ada@example.com>"),
            "{text}"
        );
        assert!(text.contains("Reply-To: admins@example.com"), "{text}");
        assert!(text.contains("Subject: Welcome to Engineering"), "{text}");
        assert!(text.contains("Accept: https://x.test/i/SECRET"), "{text}");
    }

    #[test]
    fn a_scrubbed_payload_keeps_the_recipient_only() {
        let mut e = email();
        e.subject = "Your sign-in code: 123456".into();
        e.html_body = Some("<a href=\"https://x.test/i/SECRET\">".into());
        let scrubbed = scrubbed_payload(&serde_json::to_string(&e).unwrap());
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&scrubbed).unwrap(),
            serde_json::json!({
                "to": "Ada Lovelace <ada@example.com>",
                "reply_to": "admins@example.com",
                "scrubbed": true
            })
        );
        assert_eq!(scrubbed_payload("not json"), r#"{"scrubbed":true}"#);
    }

    #[test]
    fn rejects_bad_addresses_and_hides_bodies_from_debug() {
        let mut e = email();
        assert!(format!("{e:?}").contains("ada@example.com"));
        assert!(!format!("{e:?}").contains("SECRET"));
        e.to = "not an address".into();
        assert!(matches!(
            e.validate(),
            Err(OutboxError::InvalidAddress { field: "to", .. })
        ));
    }
}
