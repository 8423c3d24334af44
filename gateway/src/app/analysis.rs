//! Wires analysis: the alarm engine resumed from the store, the rules and
//! linkage, fed by the spine and by operators.

use tokio::sync::mpsc;

use protocol::feed::AlarmFeed;

use super::Wiring;
use crate::alarms::{Engine, Window};
use crate::analysis::{Analysis, AnalysisOut, Control, SpineOutputs};
use crate::linkage::Linkage;
use crate::rules::Rules;

impl Wiring<'_> {
    /// Starts the analysis task on `spine`, resuming `open_alarms` (the open
    /// alarms and the last alarm number given) and the `maintenance`
    /// windows in force; what it reports goes to `out`. Returns where
    /// operators' requests go.
    pub(super) fn analysis(
        &mut self,
        spine: SpineOutputs,
        linkage: Linkage,
        open_alarms: (Vec<AlarmFeed>, u64),
        maintenance: Vec<Window>,
        out: mpsc::UnboundedSender<AnalysisOut>,
    ) -> mpsc::Sender<Control> {
        let (open, last) = open_alarms;
        let cfg = self.cfg;
        let mut engine = Engine::new(cfg.gateway.id.clone(), cfg.alarms.clone(), last);
        engine.resume(open);
        crate::alarms::windows::resume(&mut engine, maintenance);
        let analysis = Analysis {
            engine,
            rules: Rules::new(
                self.profiles.clone(),
                cfg.rules.clone(),
                self.clock.now_ms(),
            ),
            linkage,
            registry: self.registry.clone(),
            publisher: self.publisher.clone(),
            clock: self.clock.clone(),
            site: cfg.gateway.site.clone(),
            changes: out,
            gate: crate::analysis::gate::Gate::default(),
            progress: self.beats.add(
                crate::health::ANALYSIS,
                crate::health::Progress::ticking(crate::analysis::TICK),
            ),
        };
        let (control, control_rx) = mpsc::channel(self.cfg.queues.control.get());
        self.tasks.spawn_stage(
            "analysis",
            analysis.run(spine, control_rx, self.shutdown.clone()),
        );
        control
    }
}
