//! tributary: many feeds in, one merged feed out.
//!
//! Data flows one way: config → scheduler → fetch / seeds → parse → normalize → dedup → store →
//! select / publish → server. Each module owns one of those steps; `pipeline` runs them for one
//! poll, `app` runs the polls and renders what they changed, and `cli` holds the commands.
//! `docs/ARCHITECTURE.md` is the plan.

pub mod app;
pub mod article;
pub mod cli;
pub mod config;
pub mod connections;
pub mod dedup;
pub mod fetch;
pub mod metrics;
pub mod model;
pub mod normalize;
pub mod parse;
pub mod pipeline;
pub mod publish;
pub mod scheduler;
pub mod seeds;
pub mod select;
pub mod server;
pub mod status;
pub mod store;
pub mod suggest;
pub mod websub;

pub use app::{App, RunningApp};
pub use config::Config;
