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

#[cfg(test)]
mod tests {
    /// `build.rs` links GCC's unwinder into every binary of the package
    /// instead of loading `libgcc_s`. The daemon counts on a panic in a
    /// blocking task (a Maildir write, a health check) unwinding into an
    /// error for the task's caller, not aborting the process.
    #[test]
    fn a_panic_in_a_blocking_task_unwinds_into_an_error() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let joined = runtime.block_on(async {
            tokio::task::spawn_blocking(|| panic!("a panic the task's caller sees as an error"))
                .await
        });
        assert!(joined.expect_err("the panic, as an error").is_panic());
    }
}
