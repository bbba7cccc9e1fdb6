//! How a provider reaches AWS: the SDK configuration for a script's `region`, `endpoint_url`
//! and role, with the standard environment and profiles filling what the script leaves out.

use acteon_dsl::plan::AwsConnection;
use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sqs::config::{Credentials, SharedCredentialsProvider};
use std::time::Duration;

/// A connection attempt that takes longer is a connection error (retried by our policy).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// One attempt of one call; Lambda handlers get this long too.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);

/// The session name when a script gives a role without one.
const DEFAULT_SESSION_NAME: &str = "acteon";

/// Loads the SDK configuration for `connection`.
///
/// The SDK's own retries are off: the delivery layer retries (with backoff and jitter) and
/// counts attempts for the audit, and two retry layers would multiply. With an endpoint on
/// the loopback interface (the local emulator) and no credentials in the environment, static
/// test credentials are used, so `acteon run` against the emulator needs no setup.
pub async fn sdk_config(connection: &AwsConnection) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .build(),
        );
    if let Some(region) = &connection.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(endpoint) = &connection.endpoint_url {
        loader = loader.endpoint_url(endpoint);
        if is_loopback(endpoint) && !credentials_in_environment() {
            loader = loader.credentials_provider(Credentials::new(
                "test",
                "test",
                None,
                None,
                "acteon-local-emulator",
            ));
        }
    }
    let base = loader.load().await;
    let Some(role_arn) = &connection.role_arn else {
        return base;
    };
    // AssumeRoleProvider caches the role's credentials and refreshes them before they expire.
    let mut role = AssumeRoleProvider::builder(role_arn)
        .session_name(
            connection
                .session_name
                .clone()
                .unwrap_or_else(|| DEFAULT_SESSION_NAME.to_owned()),
        )
        .configure(&base);
    if let Some(external_id) = &connection.external_id {
        role = role.external_id(external_id);
    }
    let provider = role.build().await;
    base.into_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build()
}

fn credentials_in_environment() -> bool {
    [
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ]
    .iter()
    .any(|name| std::env::var_os(name).is_some())
}

/// Whether `endpoint` names 127.0.0.1, ::1 or localhost.
fn is_loopback(endpoint: &str) -> bool {
    let rest = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest);
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    matches!(host, "127.0.0.1" | "localhost" | "::1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_endpoints_are_recognised() {
        assert!(is_loopback("http://127.0.0.1:4566"));
        assert!(is_loopback("http://localhost:4566/"));
        assert!(is_loopback("http://[::1]:4566"));
        assert!(!is_loopback("https://sns.us-east-1.amazonaws.com"));
        assert!(!is_loopback("http://127.0.0.10:4566"));
    }
}
