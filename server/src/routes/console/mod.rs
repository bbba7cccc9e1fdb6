//! The web console: the page and its assets at `/ui` (served without a key: the page asks for
//! one when the server has keys), and the read-only routes it needs beside the JSON API, each
//! behind the same keys and tenant scoping as the rest of `/v1`:
//! - [`plan`]: `GET /v1/plan`, the running plan (rules in order with their origins, chains,
//!   providers, the dataflow graph).
//! - [`explain`]: `POST /v1/rules/explain`, the playground's walk of the rules over one action,
//!   each condition with the value it read.
//! - [`tail`]: `GET /v1/tail`, audit records as they are written, as server-sent events.
//! - [`stats`]: `GET /v1/console/overview` (live counts per rule, provider and outcome, and
//!   decisions per second) and `GET /v1/console/whoami`.
//! - [`assets`]: `/ui`, `/ui/*`: one page with client-side routes, its modules and style.

mod assets;
mod explain;
mod plan;
mod stats;
mod tail;

pub use assets::ui;
pub use explain::explain;
pub use plan::plan;
pub use stats::{overview, whoami};
pub use tail::tail;
