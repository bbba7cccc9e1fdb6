//! Optional API keys. With none configured every request is let in. With keys, every request
//! but `GET /health` (left open for liveness probes) needs one, as `Authorization: Bearer KEY`
//! or `X-API-Key: KEY`; a key may be limited to tenants, and then only acts and reads within
//! them.

use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::str::FromStr;
use std::sync::Arc;

/// One key: `KEY` (every tenant) or `KEY:TENANT[,TENANT...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub key: String,
    /// `None`: every tenant.
    pub tenants: Option<Vec<String>>,
}

impl FromStr for ApiKey {
    type Err = String;

    fn from_str(text: &str) -> Result<ApiKey, String> {
        let (key, tenants) = match text.split_once(':') {
            None => (text, None),
            Some((key, list)) => {
                let tenants: Vec<String> = list
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect();
                if tenants.is_empty() {
                    return Err(format!("`{text}` names no tenant after the colon"));
                }
                (key, Some(tenants))
            }
        };
        if key.is_empty() {
            return Err("an API key cannot be empty".into());
        }
        Ok(ApiKey {
            key: key.to_owned(),
            tenants,
        })
    }
}

impl ApiKey {
    /// Keys as an API keys file or `ACTEON_API_KEYS` holds them: one per line (or separated by
    /// `;`), each `KEY` or `KEY:TENANT[,TENANT...]`; blank lines and `#` comments are skipped.
    pub fn parse_list(text: &str) -> Result<Vec<ApiKey>, String> {
        text.split(['\n', ';'])
            .map(str::trim)
            .filter(|entry| !entry.is_empty() && !entry.starts_with('#'))
            .map(str::parse)
            .collect()
    }
}

/// Who is calling, as the handlers see it.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// `None`: every tenant.
    pub tenants: Option<Vec<String>>,
}

impl Caller {
    /// Refuses a tenant outside the key's tenants.
    pub fn check(&self, tenant: &str) -> Result<(), ApiError> {
        match &self.tenants {
            Some(tenants) if !tenants.iter().any(|t| t == tenant) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "tenant_forbidden",
                format!("this API key may not act for tenant `{tenant}`"),
            )),
            _ => Ok(()),
        }
    }

    /// The tenant a read is limited to: the one asked for (if allowed), else the key's only
    /// tenant; a key of several tenants must name one.
    pub fn scope(&self, asked: Option<String>) -> Result<Option<String>, ApiError> {
        match (&self.tenants, asked) {
            (_, Some(tenant)) => self.check(&tenant).map(|()| Some(tenant)),
            (None, None) => Ok(None),
            (Some(tenants), None) if tenants.len() == 1 => Ok(Some(tenants[0].clone())),
            (Some(_), None) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "tenant_required",
                "this API key is limited to several tenants: name one with `tenant`",
            )),
        }
    }

    /// Whether a record of `tenant` may be shown.
    pub fn sees(&self, tenant: &str) -> bool {
        self.check(tenant).is_ok()
    }
}

pub type ApiKeys = Arc<Vec<ApiKey>>;

/// The middleware: finds the key, refuses a missing or unknown one, and hands the handlers a
/// [`Caller`].
pub async fn authenticate(
    State(keys): State<ApiKeys>,
    mut request: Request,
    next: Next,
) -> Response {
    if keys.is_empty() || request.uri().path() == "/health" {
        request.extensions_mut().insert(Caller::default());
        return next.run(request).await;
    }
    let headers = request.headers();
    let given = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
        });
    let Some(given) = given else {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "api_key_required",
            "give an API key: `Authorization: Bearer KEY` or `X-API-Key: KEY`",
        )
        .into_response();
    };
    let Some(key) = find_key(&keys, given) else {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "api_key_unknown",
            "this API key is not known",
        )
        .into_response();
    };
    request.extensions_mut().insert(Caller {
        tenants: key.tenants.clone(),
    });
    next.run(request).await
}

/// The key equal to `given`. Every key is compared, each in constant time, so how long the
/// search takes says nothing about how much of a key a guess got right, nor which key matched.
fn find_key<'k>(keys: &'k [ApiKey], given: &str) -> Option<&'k ApiKey> {
    use subtle::ConstantTimeEq;
    keys.iter().fold(None, |found, key| {
        let equal = bool::from(key.key.as_bytes().ct_eq(given.as_bytes()));
        found.or(equal.then_some(key))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_with_and_without_tenants() {
        assert_eq!(
            "k1".parse::<ApiKey>().unwrap(),
            ApiKey {
                key: "k1".into(),
                tenants: None
            }
        );
        let limited: ApiKey = "k2:hq, branch".parse().unwrap();
        assert_eq!(limited.tenants.unwrap(), ["hq", "branch"]);
        assert!("k3:".parse::<ApiKey>().is_err());
        assert!(":hq".parse::<ApiKey>().is_err());
    }

    #[test]
    fn key_lists_skip_comments_and_blank_lines() {
        let keys = ApiKey::parse_list("# ops\nk1\n\n  k2:hq, branch  \r\nk3;k4:hq").unwrap();
        let names: Vec<&str> = keys.iter().map(|k| k.key.as_str()).collect();
        assert_eq!(names, ["k1", "k2", "k3", "k4"]);
        assert_eq!(keys[1].tenants.as_deref().unwrap(), ["hq", "branch"]);
        assert!(ApiKey::parse_list("k1\n:hq").is_err());
    }

    #[test]
    fn every_key_is_compared_and_only_an_equal_one_matches() {
        let keys = ApiKey::parse_list("secret-one\nsecret-two:hq").unwrap();
        assert_eq!(find_key(&keys, "secret-two").unwrap().key, "secret-two");
        assert_eq!(find_key(&keys, "secret-one").unwrap().tenants, None);
        for guess in ["secret-", "secret-one-", "SECRET-ONE", ""] {
            assert!(find_key(&keys, guess).is_none(), "{guess}");
        }
    }

    #[test]
    fn a_limited_caller_reads_only_its_tenants() {
        let caller = Caller {
            tenants: Some(vec!["hq".into()]),
        };
        assert_eq!(caller.scope(None).unwrap().as_deref(), Some("hq"));
        assert_eq!(
            caller.scope(Some("other".into())).unwrap_err().code,
            "tenant_forbidden"
        );
        let two = Caller {
            tenants: Some(vec!["a".into(), "b".into()]),
        };
        assert_eq!(two.scope(None).unwrap_err().code, "tenant_required");
        assert!(Caller::default().scope(None).unwrap().is_none());
    }
}
