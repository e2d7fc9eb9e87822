//! Helpers shared by the bench and the grid probe.
pub mod grid;
