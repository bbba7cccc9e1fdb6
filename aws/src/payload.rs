//! Reading API fields out of an action's payload (README, "Payload mapping").

use serde_json::{Map, Value};

/// A value as message text: a string as it is, anything else as compact JSON.
pub fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The first of `names` present in the payload (an object; other payloads have no fields).
pub fn field<'a>(payload: &'a Value, names: &[&str]) -> Option<&'a Value> {
    let object = payload.as_object()?;
    names.iter().find_map(|name| object.get(*name))
}

/// A scalar field as a string (numbers and booleans in their JSON spelling); an object, array
/// or null under that name is an error, since the API wants a string there.
pub fn string(payload: &Value, names: &[&str]) -> Result<Option<String>, String> {
    match field(payload, names) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(value @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(value.to_string())),
        Some(other) => Err(format!(
            "payload field `{}` must be a string, not {}",
            names[0],
            kind(other)
        )),
    }
}

/// An object of scalars as string pairs (message attributes, S3 metadata).
pub fn string_map(payload: &Value, name: &str) -> Result<Vec<(String, String)>, String> {
    match field(payload, &[name]) {
        None => Ok(Vec::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(key, value)| match value {
                Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                    Ok((key.clone(), text(value)))
                }
                other => Err(format!(
                    "payload field `{name}.{key}` must be a string, not {}",
                    kind(other)
                )),
            })
            .collect(),
        Some(other) => Err(format!(
            "payload field `{name}` must be an object, not {}",
            kind(other)
        )),
    }
}

/// A string or an array of strings as a list.
pub fn string_list(payload: &Value, name: &str) -> Result<Vec<String>, String> {
    match field(payload, &[name]) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(one)) => Ok(vec![one.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(text.clone()),
                other => Err(format!(
                    "payload field `{name}` must hold strings, not {}",
                    kind(other)
                )),
            })
            .collect(),
        Some(other) => Err(format!(
            "payload field `{name}` must be a string or a list of strings, not {}",
            kind(other)
        )),
    }
}

/// A JSON document given as an object or as JSON text, as an object: EventBridge's detail
/// and the like. Other values are wrapped as `{"value": ...}` so the API still gets an object.
pub fn json_object(value: &Value) -> Map<String, Value> {
    let parsed;
    let value = match value {
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(json) => {
                parsed = json;
                &parsed
            }
            Err(_) => value,
        },
        other => other,
    };
    match value {
        Value::Object(map) => map.clone(),
        other => Map::from_iter([("value".to_owned(), other.clone())]),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_read_as_the_api_wants_them() {
        let payload = json!({ "a": "x", "n": 3, "o": {"k": 1}, "l": ["p", "q"] });
        assert_eq!(
            string(&payload, &["missing", "n"]).unwrap().as_deref(),
            Some("3")
        );
        assert!(string(&payload, &["o"])
            .unwrap_err()
            .contains("not an object"));
        assert_eq!(
            string_map(&payload, "o").unwrap(),
            [("k".to_owned(), "1".to_owned())]
        );
        assert_eq!(string_list(&payload, "l").unwrap(), ["p", "q"]);
        assert_eq!(string_list(&payload, "a").unwrap(), ["x"]);
        assert_eq!(text(&json!({"v": 1})), r#"{"v":1}"#);
        assert_eq!(text(&json!("plain")), "plain");
    }

    #[test]
    fn json_documents_become_objects() {
        assert_eq!(
            json_object(&json!({"a": 1})),
            json!({"a": 1}).as_object().unwrap().clone()
        );
        assert_eq!(
            json_object(&json!("{\"a\":1}")),
            json!({"a": 1}).as_object().unwrap().clone()
        );
        assert_eq!(
            json_object(&json!("text")),
            json!({"value": "text"}).as_object().unwrap().clone()
        );
    }
}
