//! followup tracks commitments announced in the news and reminds the right
//! desk as their deadlines approach and pass.
//!
//! The core is pure: [`deadline`] turns stated deadlines into dates and
//! [`model`] holds the desk's vocabulary. Around it sit the edges:
//! [`config`] (the TOML file), [`store`] (SQLite), [`transfer`] (export and
//! import files) and [`cli`] (the command line).

pub mod cli;
pub mod config;
pub mod deadline;
pub mod model;
pub mod plan;
pub mod store;
pub mod transfer;
