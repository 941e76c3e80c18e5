//! Storage formats: the S4 container and the base56 textual identity.

pub mod base56;
pub mod s4;
