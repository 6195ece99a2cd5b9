//! Optimal-transport solvers. Nothing here knows about images or pixels: the inputs are points
//! (or positions on a line) with non-negative weights, so the code serves any transport problem.
//!
//! - [`one_d`]: exact Wasserstein distances between weighted points on a line, and an O(N)
//!   ordering of nearly uniformly spread keys (the building blocks of sliced Wasserstein);
//! - [`lattice`]: the cells of a regular grid in the order of their projection on a direction,
//!   in O(N) without comparing cells;
//! - [`strips`]: `W₁` of a grid's projection read strip by strip, so that the working set stays
//!   in cache at any grid size;
//! - [`network_simplex`]: exact uncapacitated min-cost flow over an implicit arc set;
//! - [`colgen`]: exact dense transport by column generation over a growing sparse arc set,
//!   with a dual certificate;
//! - [`grid_flow`]: exact `W₁` with cityblock cost on a grid, as a flow on the 4-neighbour
//!   graph solved coarse to fine;
//! - [`arcs`]: arc sets for it — the complete bipartite graph between two point clouds with
//!   costs from coordinates, and the 4-neighbour grid graph (exact W₁ for cityblock cost);
//! - [`pricing`]: the reduced costs of every pair for column generation, without visiting
//!   every pair where the geometry allows;
//! - [`sinkhorn`]: entropic transport between two grids with squared euclidean cost, by
//!   log-domain Sinkhorn iterations over separable kernels.
//!
//! The layer depends on `std` and `rayon` only and has its own [`Error`]; nothing here imports
//! from the rest of the crate, which converts [`Error`] into its own.

pub mod arcs;
pub mod colgen;
mod error;
pub mod grid_flow;
pub mod lattice;
pub mod network_simplex;
pub mod one_d;
pub mod pricing;
pub mod sinkhorn;
pub mod strips;

pub use error::{Error, Result};
