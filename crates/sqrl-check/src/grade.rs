//! Grading of the requests a SQRL client sends, without IO (see the crate documentation).
