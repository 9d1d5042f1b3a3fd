//! followup tracks commitments announced in the news and reminds the right
//! desk as their deadlines approach and pass.
//!
//! The core is pure: [`deadline`] turns stated deadlines into dates and
//! [`model`] holds the desk's vocabulary. Around it sit the edges:
//! [`config`] (the TOML file), [`store`] (SQLite), [`transfer`] (export and
//! import files), [`mail`] (rendering and transports), [`daemon`] (the
//! scheduler loop), [`monitoring`] (the daemon's health and metrics over
//! HTTP) and [`cli`] (the command line). [`plan`] decides which
//! reminder is owed when, without touching any of them.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod deadline;
pub mod ingest;
pub mod mail;
pub mod model;
pub mod monitoring;
pub mod plan;
pub mod store;
pub mod transfer;
