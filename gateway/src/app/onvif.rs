//! Wires one task per `[[cameras]]` entry: its events go into ingest, its
//! availability into presence.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::{StartError, Wiring};
use crate::config::validate::FieldProblem;
use crate::ingest::Ingest;
use crate::message::Ingested;
use crate::onvif::OnvifCamera;

impl Wiring<'_> {
    /// Starts the camera tasks. Each camera must be a registered device of
    /// kind `camera`.
    pub(super) fn cameras(
        &mut self,
        ingest: &Ingest,
        states: &mpsc::Sender<Ingested>,
    ) -> Result<(), StartError> {
        let registry = self.registry.get();
        let mut problems = Vec::new();
        let mut cameras = Vec::new();
        for (i, cfg) in self.cfg.cameras.iter().enumerate() {
            let Some(device) = registry.device(&cfg.id) else {
                problems.push(FieldProblem::new(
                    format!("cameras[{i}].id"),
                    format!(
                        "no device `{}` in the registry (register it with a camera profile)",
                        cfg.id
                    ),
                ));
                continue;
            };
            let kind = self
                .profiles
                .get(&device.profile)
                .map(|p| p.kind.to_string());
            if kind.as_deref() != Some("camera") {
                problems.push(FieldProblem::new(
                    format!("cameras[{i}].id"),
                    format!(
                        "device `{}` has profile `{}`, not a camera's",
                        cfg.id, device.profile
                    ),
                ));
                continue;
            }
            cameras.push(OnvifCamera {
                cfg: cfg.clone(),
                device: Arc::clone(device),
                ingest: ingest.clone(),
                states: states.clone(),
                store: self.store.clone(),
                rejects: self.rejects.clone(),
                clock: self.clock.clone(),
            });
        }
        if !problems.is_empty() {
            return Err(StartError::Invalid(problems));
        }
        for cam in cameras {
            self.tasks
                .spawn_stage("onvif-camera", cam.run(self.shutdown.clone()));
        }
        Ok(())
    }
}
