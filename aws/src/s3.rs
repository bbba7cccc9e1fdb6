//! `aws-s3`: PutObject, one call per action.
//!
//! Key: the payload's `key`, else `<namespace>/<tenant>/<action_type>/<idempotency key>.json`
//! (the idempotency key is the action id, or `<chain id>#<step>` for a chain's step), so a
//! replayed action overwrites its object instead of adding one; either way under the
//! provider's `object_prefix`. Content: the payload's `body` (a string as
//! it is, other JSON as text), else the whole payload as JSON. `content_type` defaults to
//! `application/json` for JSON content and `text/plain; charset=utf-8` for a string body.
//! `metadata` (an object of strings) becomes the object's user metadata.
//! Result: `{bucket, key, etag}`.

use crate::error::classify;
use crate::payload;
use acteon_delivery::Backend;
use acteon_delivery::CallError;
use acteon_engine::provider::ProviderCall;
use aws_sdk_s3::primitives::ByteStream;
use serde_json::{json, Value};

pub struct S3 {
    pub client: aws_sdk_s3::Client,
    pub bucket: String,
    pub object_prefix: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub key: String,
    pub body: String,
    pub content_type: String,
    pub metadata: Vec<(String, String)>,
}

pub fn object(call: &ProviderCall, prefix: Option<&str>) -> Result<Object, String> {
    let payload = call.payload.value();
    let key = payload::string(payload, &["key"])?.unwrap_or_else(|| {
        format!(
            "{}/{}/{}/{}.json",
            call.namespace, call.tenant, call.action_type, call.idempotency_key
        )
    });
    let (body, default_type) = match payload::field(payload, &["body"]) {
        Some(Value::String(text)) => (text.clone(), "text/plain; charset=utf-8"),
        Some(other) => (other.to_string(), "application/json"),
        None => (payload.to_string(), "application/json"),
    };
    Ok(Object {
        key: format!("{}{key}", prefix.unwrap_or_default()),
        body,
        content_type: payload::string(payload, &["content_type"])?
            .unwrap_or_else(|| default_type.to_owned()),
        metadata: payload::string_map(payload, "metadata")?,
    })
}

impl S3 {
    async fn put(&self, object: Object) -> Result<Value, CallError> {
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&object.key)
            .content_type(object.content_type)
            .body(ByteStream::from(object.body.into_bytes()));
        for (name, value) in object.metadata {
            request = request.metadata(name, value);
        }
        let output = request.send().await.map_err(classify)?;
        Ok(json!({ "bucket": self.bucket, "key": object.key, "etag": output.e_tag() }))
    }
}

impl Backend for S3 {
    type Entry = Object;
    const BATCH: usize = 1;

    fn prepare(&self, call: &ProviderCall) -> Result<Object, String> {
        object(call, self.object_prefix.as_deref())
    }

    async fn send(&self, objects: Vec<Object>) -> Vec<Result<Value, CallError>> {
        let mut results = Vec::with_capacity(objects.len());
        for object in objects {
            results.push(self.put(object).await);
        }
        results
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(payload: Value) -> ProviderCall {
        ProviderCall {
            provider: "archive".into(),
            action_id: "r-1".into(),
            namespace: "iot".into(),
            tenant: "hq".into(),
            action_type: "sensor_reading".into(),
            payload: payload.into(),
            idempotency_key: "r-1".into(),
        }
    }

    #[test]
    fn a_plain_payload_is_stored_as_json_under_a_derived_key() {
        let stored = object(&call(json!({ "value": 3 })), Some("raw/")).unwrap();
        assert_eq!(stored.key, "raw/iot/hq/sensor_reading/r-1.json");
        assert_eq!(stored.body, r#"{"value":3}"#);
        assert_eq!(stored.content_type, "application/json");
    }

    #[test]
    fn named_fields_are_honoured() {
        let stored = object(
            &call(json!({
                "key": "reports/a.csv", "body": "a,b\n1,2\n", "content_type": "text/csv",
                "metadata": { "source": "acteon" }
            })),
            None,
        )
        .unwrap();
        assert_eq!(
            stored,
            Object {
                key: "reports/a.csv".into(),
                body: "a,b\n1,2\n".into(),
                content_type: "text/csv".into(),
                metadata: vec![("source".into(), "acteon".into())],
            }
        );
    }
}
