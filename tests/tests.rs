//! Integration tests: the real `followup` binary, run in fresh temporary
//! folders against real SQLite files.

mod smtp;
mod support;

mod assets;
mod backup;
mod bad_input;
mod clock;
mod commitments;
mod config_files;
mod daemon;
mod deadline_props;
mod deadline_table;
mod doctor;
mod faults;
mod ingest;
mod ingest_cli;
mod monitoring;
mod transfer;
