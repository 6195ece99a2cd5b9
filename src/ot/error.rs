//! The solver layer's error type.

use std::fmt;

/// Why a solver stopped without an optimum.
///
/// A solver never returns a number it has not proved optimal: every limit it hits is one of
/// these errors.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// The network simplex reached [`Options::max_iterations`](super::network_simplex::Options::max_iterations)
    /// pivots with arcs still pricing out.
    PivotCap {
        /// The cap in force.
        cap: u64,
    },
    /// Flow is left on the artificial arcs at the optimum: no feasible flow meets the supplies
    /// (their totals differ, or a component of the arc set does not balance).
    Infeasible {
        /// The largest flow left on one artificial arc.
        unrouted: f64,
    },
    /// Column generation still found violated pairs after its last allowed round.
    RoundCap {
        /// The number of rounds run.
        rounds: usize,
    },
    /// Sinkhorn iterations reached [`Options::max_iterations`](super::sinkhorn::Options::max_iterations)
    /// with the marginal error still above the tolerance.
    SinkhornCap {
        /// The cap in force.
        iterations: u64,
        /// The L1 marginal error at the last iteration.
        marginal_error: f64,
        /// The tolerance it had to meet.
        tol: f64,
    },
}

/// The solver layer's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::PivotCap { cap } => write!(
                f,
                "network simplex reached its cap of {cap} pivots before optimality"
            ),
            Error::Infeasible { unrouted } => write!(
                f,
                "infeasible supplies: {unrouted:e} units of flow have no path (unequal totals?)"
            ),
            Error::RoundCap { rounds } => write!(
                f,
                "column generation still found violated pairs after {rounds} rounds"
            ),
            Error::SinkhornCap {
                iterations,
                marginal_error,
                tol,
            } => write!(
                f,
                "Sinkhorn iterations reached their cap of {iterations} with a marginal error of \
                 {marginal_error:.3e}, above the tolerance {tol:e} (a larger ε or tolerance \
                 converges sooner)"
            ),
        }
    }
}

impl std::error::Error for Error {}
