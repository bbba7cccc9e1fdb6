//! `email` with the SES backend: SES v2 SendEmail, one call per action, from the provider's
//! `from_address` (and `configuration_set`).
//!
//! `to` (a string or a list) is required; `cc`, `bcc` and `reply_to` likewise. `subject`
//! defaults to the action type; the text part is `body`, else the whole payload as JSON;
//! `html_body` adds an HTML part. Result: `{message_id}`.

use crate::error::classify;
use crate::payload;
use acteon_delivery::Backend;
use acteon_delivery::CallError;
use acteon_engine::provider::ProviderCall;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use serde_json::{json, Value};

pub struct Email {
    pub client: aws_sdk_sesv2::Client,
    pub from_address: String,
    pub configuration_set: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mail {
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub reply_to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

pub fn mail(call: &ProviderCall) -> Result<Mail, String> {
    let payload = call.payload.value();
    let to = payload::string_list(payload, "to")?;
    if to.is_empty() {
        return Err("an email needs `to` in its payload".to_owned());
    }
    Ok(Mail {
        to,
        cc: payload::string_list(payload, "cc")?,
        bcc: payload::string_list(payload, "bcc")?,
        reply_to: payload::string_list(payload, "reply_to")?,
        subject: payload::string(payload, &["subject"])?
            .unwrap_or_else(|| call.action_type.to_string()),
        text: payload::field(payload, &["body"]).map_or_else(|| payload.to_string(), payload::text),
        html: payload::string(payload, &["html_body"])?,
    })
}

fn content(text: String) -> Result<Content, CallError> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| CallError::fatal(e.to_string()))
}

impl Email {
    async fn send_mail(&self, mail: Mail) -> Result<Value, CallError> {
        let mut body = Body::builder().text(content(mail.text)?);
        if let Some(html) = mail.html {
            body = body.html(content(html)?);
        }
        let message = Message::builder()
            .subject(content(mail.subject)?)
            .body(body.build())
            .build();
        let destination = Destination::builder()
            .set_to_addresses(Some(mail.to))
            .set_cc_addresses((!mail.cc.is_empty()).then_some(mail.cc))
            .set_bcc_addresses((!mail.bcc.is_empty()).then_some(mail.bcc))
            .build();
        let output = self
            .client
            .send_email()
            .from_email_address(&self.from_address)
            .destination(destination)
            .set_reply_to_addresses((!mail.reply_to.is_empty()).then_some(mail.reply_to))
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(classify)?;
        Ok(json!({ "message_id": output.message_id() }))
    }
}

impl Backend for Email {
    type Entry = Mail;
    const BATCH: usize = 1;

    fn prepare(&self, call: &ProviderCall) -> Result<Mail, String> {
        mail(call)
    }

    async fn send(&self, mails: Vec<Mail>) -> Vec<Result<Value, CallError>> {
        let mut results = Vec::with_capacity(mails.len());
        for mail in mails {
            results.push(self.send_mail(mail).await);
        }
        results
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(payload: Value) -> ProviderCall {
        ProviderCall {
            provider: "mail".into(),
            action_id: "a".into(),
            namespace: "iot".into(),
            tenant: "t".into(),
            action_type: "alert".into(),
            payload: payload.into(),
            idempotency_key: "a".into(),
        }
    }

    #[test]
    fn recipients_are_required_and_the_rest_has_defaults() {
        assert!(mail(&call(json!({ "subject": "x" }))).is_err());
        let sent = mail(&call(json!({ "to": "ops@example.com", "value": 1 }))).unwrap();
        assert_eq!(sent.to, ["ops@example.com"]);
        assert_eq!(sent.subject, "alert");
        assert_eq!(sent.text, r#"{"to":"ops@example.com","value":1}"#);
    }
}
