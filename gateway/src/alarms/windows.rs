//! Changes to maintenance asked of the analysis task (which owns the
//! engine): start a window (refused over an open real fire), end one, put
//! back one a failed store replaced; and the windows resumed at start-up.

use super::Engine;
use super::maintenance::{Maintenance, MaintenanceError, Window};
use crate::registry::Registry;

/// A change to maintenance asked of the analysis task (which owns the engine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Start (or replace) a window; refused while a real fire or gas alarm
    /// is open inside its target.
    Start(Window),
    /// End the window on this target.
    End(String),
    /// Put back what was in force on `target` before a start that could
    /// not be stored.
    Restore {
        /// The target.
        target: String,
        /// The window replaced by that start, if any.
        previous: Option<Window>,
    },
}

/// Applies `change` to the engine's windows; returns the window it
/// replaced or ended.
///
/// # Errors
/// [`MaintenanceError::LifeSafety`] when a start would cover an open real
/// fire or gas alarm.
pub fn apply(
    engine: &mut Engine,
    registry: &Registry,
    change: Change,
) -> Result<Option<Window>, MaintenanceError> {
    match change {
        Change::Start(w) => {
            if let Some(e) =
                Maintenance::conflict(&w.target, engine.open(), |d| registry.device(d).cloned())
            {
                return Err(e);
            }
            Ok(engine.maintenance_mut().start(w))
        }
        Change::End(target) => Ok(engine.maintenance_mut().end(&target)),
        Change::Restore { target, previous } => {
            let m = engine.maintenance_mut();
            let undone = m.end(&target);
            if let Some(p) = previous {
                m.start(p);
            }
            Ok(undone)
        }
    }
}

/// Puts back the windows stored before a restart.
pub fn resume(engine: &mut Engine, windows: impl IntoIterator<Item = Window>) {
    for w in windows {
        tracing::info!(window = %w.target, until = w.until, by = %w.by, "maintenance in force");
        engine.maintenance_mut().start(w);
    }
}
