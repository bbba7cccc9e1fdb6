//! `GET /v1/tail`: every audit record as it is written, as server-sent events (`event:
//! record`, `id:` the record id, `data:` the record's JSON, as `GET /v1/audit` gives it).
//!
//! Filters, each optional: `outcome` (one or several, comma-separated), `rule`, `tenant`,
//! `namespace`, `provider` (own or called), `action_type`, `chain_id`. A key limited to
//! tenants sees only their records (and may not ask for another tenant's). A client that reads
//! slower than records come misses some: it gets `event: lagged` with `{"missed": N}` and the
//! stream goes on. A comment every 15 s keeps idle connections open through proxies.
//!
//! A stream ends after [`STREAM_LIFETIME`] and the client connects again (the console does at
//! once; records written in between are not replayed). Why: a graceful shutdown waits for every
//! response to finish, and nothing tells a stream that the server is stopping, so an open
//! console would otherwise keep `acteon serve` from exiting.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::{Params, Shared};
use acteon_dsl::plan::Outcome;
use acteon_engine::audit::record::AuditRecord;
use axum::extract::Query;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Extension;
use futures_core::Stream;
use serde_json::json;
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::sync::broadcast::{error::RecvError, Receiver};

/// Records a stream may look at and drop (filtered out) before it lets other tasks run.
const SKIP_BUDGET: usize = 256;

/// How long one stream lasts: the longest a graceful shutdown waits for an open tail.
pub const STREAM_LIFETIME: Duration = Duration::from_secs(5);

pub async fn tail(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let mut params = Params(params);
    let outcomes = params
        .text("outcome")
        .map(|list| {
            list.split(',')
                .map(|name| {
                    Outcome::from_name(name.trim()).ok_or_else(|| {
                        ApiError::bad_request(
                            "invalid_parameter",
                            format!("`{name}` is not an outcome"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let tenant = params.text("tenant");
    if let Some(tenant) = &tenant {
        caller.check(tenant)?;
    }
    let filter = Filter {
        outcomes,
        tenant,
        rule: params.text("rule"),
        namespace: params.text("namespace"),
        provider: params.text("provider"),
        action_type: params.text("action_type"),
        chain_id: params.text("chain_id"),
        caller,
    };
    let stream = Tail {
        next: receive(state.subscribe()),
        filter,
        end: Box::pin(tokio::time::sleep(STREAM_LIFETIME)),
    };
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

struct Filter {
    outcomes: Option<Vec<Outcome>>,
    tenant: Option<String>,
    rule: Option<String>,
    namespace: Option<String>,
    provider: Option<String>,
    action_type: Option<String>,
    chain_id: Option<String>,
    caller: Caller,
}

impl Filter {
    fn admits(&self, record: &AuditRecord) -> bool {
        fn holds(wanted: &Option<String>, actual: Option<&str>) -> bool {
            wanted.as_deref().is_none_or(|w| actual == Some(w))
        }
        self.caller.sees(&record.tenant)
            && self
                .outcomes
                .as_ref()
                .is_none_or(|o| o.contains(&record.outcome))
            && holds(&self.tenant, Some(&record.tenant))
            && holds(&self.namespace, Some(&record.namespace))
            && holds(&self.rule, record.rule.as_deref())
            && holds(&self.action_type, Some(&record.action_type))
            && holds(&self.chain_id, record.chain_id.as_deref())
            && self.provider.as_deref().is_none_or(|p| {
                record.provider.as_deref() == Some(p) || record.target.as_deref() == Some(p)
            })
    }
}

type Received = (
    Result<Arc<AuditRecord>, RecvError>,
    Receiver<Arc<AuditRecord>>,
);

/// The next record of `receiver`, handing the receiver back with it.
fn receive(
    mut receiver: Receiver<Arc<AuditRecord>>,
) -> Pin<Box<dyn Future<Output = Received> + Send>> {
    Box::pin(async move {
        let received = receiver.recv().await;
        (received, receiver)
    })
}

/// The records a subscriber receives, filtered, as events.
struct Tail {
    next: Pin<Box<dyn Future<Output = Received> + Send>>,
    filter: Filter,
    end: Pin<Box<tokio::time::Sleep>>,
}

impl Stream for Tail {
    type Item = Result<Event, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.end.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        for _ in 0..SKIP_BUDGET {
            let (received, receiver) = ready!(self.next.as_mut().poll(cx));
            self.next = receive(receiver);
            match received {
                Ok(record) if self.filter.admits(&record) => {
                    return Poll::Ready(Some(Ok(event(&record))));
                }
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => {
                    let data = json!({ "missed": missed }).to_string();
                    return Poll::Ready(Some(Ok(Event::default().event("lagged").data(data))));
                }
                Err(RecvError::Closed) => return Poll::Ready(None),
            }
        }
        // Many records in a row were filtered out: go on later, after other tasks had a turn.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn event(record: &AuditRecord) -> Event {
    let value = serde_json::to_value(record).unwrap_or_default();
    let id = value["id"].as_str().unwrap_or_default().to_owned();
    Event::default()
        .event("record")
        .id(id)
        .data(value.to_string())
}
