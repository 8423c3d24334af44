//! Reloads while the gateway runs: the configuration's rules on SIGHUP.

use std::path::Path;
use std::sync::Arc;

use crate::analysis::Control;
use crate::app::Gateway;
use crate::config::{Problem, Valid, validate};
use crate::rules::Rules;

/// Validates the configuration file at `path` again (the same validation as
/// `gridsense check`) and, if it passes, replaces the running rules; otherwise
/// the old rules keep running.
///
/// # Errors
/// Every problem found, with file, line and column where known.
pub async fn rules(gw: &Gateway, path: &Path) -> Result<(), Vec<Problem>> {
    let Valid { config, profiles } = validate::file(path)?;
    let rules = Rules::new(Arc::new(profiles), config.rules, gw.clock.now_ms());
    gw.control
        .send(Control::ReloadRules(Box::new(rules)))
        .await
        .map_err(|_| {
            vec![Problem {
                file: None,
                at: None,
                message: "the gateway is shutting down".to_string(),
            }]
        })
}
