//! Optimal-transport solvers. Nothing here knows about images or pixels: the inputs are points
//! (or positions on a line) with non-negative weights, so the code serves any transport problem.
//!
//! - [`one_d`]: exact Wasserstein distances between weighted points on a line, and an O(N)
//!   ordering of nearly uniformly spread keys (the building blocks of sliced Wasserstein).

pub mod one_d;
