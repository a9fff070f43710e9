//! The seam between the rules of measuring (rounds, windows, measuring again, liveness; in
//! `rounds`) and the real things they drive: a server process, a load generator, /proc. The
//! rules call only this trait, so they are unit-tested against a scripted server and generator
//! (`MockExecutor` in rounds' tests), and run for real with `RealExecutor` (after hyperfine's
//! `Executor` / `MockExecutor`).

use std::time::{Duration, Instant};

use super::launch::{LaunchRecord, Started};
use super::window::{run_window, Window};
use super::{warm_requests, CellError, Plan};
use crate::sys::sampler::Sampler;

/// What one window measured, with the server's memory around it.
pub struct Measurement {
    pub window: Result<Window, CellError>,
    /// Peak resident memory of the server's tree during the window (KiB).
    pub rss_peak_kb: u64,
    /// Resident memory after it.
    pub rss_end_kb: Option<u64>,
}

/// How one window is asked for.
pub struct WindowArgs<'a> {
    /// Names its logs ("r2", "r2-again1").
    pub label: &'a str,
    /// Load before the window that is not counted.
    pub warmup: Duration,
    /// Open model: the rate to offer.
    pub rate: u32,
}

pub trait Executor {
    type Server;

    /// Starts `plan`'s server and waits until it answers its workload, filling `record`.
    fn start(
        &mut self,
        plan: &Plan,
        tag: &str,
        record: &mut LaunchRecord,
        phase: &dyn Fn(&str),
    ) -> Result<Self::Server, CellError>;

    /// Ten checked single requests before a window: their latencies (ms).
    fn warm(&mut self, server: &Self::Server, plan: &Plan) -> Result<Vec<f64>, CellError>;

    /// One window of `plan`'s load, exactly as asked (the rules decide what to retry).
    fn window(&mut self, server: &Self::Server, plan: &Plan, args: &WindowArgs) -> Measurement;

    /// Why the server exited, when it has.
    fn died(&mut self, server: &Self::Server) -> Option<CellError>;

    /// Why the server no longer answers a fresh connection within 5 s, when it does not.
    fn answers(&mut self, server: &Self::Server, plan: &Plan) -> Option<CellError>;

    fn stop(&mut self, server: Self::Server);

    /// The clock the remeasure deadline is kept with.
    fn now(&self) -> Instant;
}

/// Real servers, real generators, real /proc.
pub struct RealExecutor;

impl Executor for RealExecutor {
    type Server = Started;

    fn start(
        &mut self,
        plan: &Plan,
        tag: &str,
        record: &mut LaunchRecord,
        phase: &dyn Fn(&str),
    ) -> Result<Started, CellError> {
        plan.launch.start(tag, plan.workload()?, record, phase)
    }

    fn warm(&mut self, server: &Started, plan: &Plan) -> Result<Vec<f64>, CellError> {
        warm_requests(&server.base, plan.workload()?)
    }

    fn window(&mut self, server: &Started, plan: &Plan, args: &WindowArgs) -> Measurement {
        let spec = match plan.window_spec(&server.base, args.label, args.warmup, args.rate) {
            Ok(spec) => spec,
            Err(e) => {
                return Measurement {
                    window: Err(e),
                    rss_peak_kb: 0,
                    rss_end_kb: None,
                }
            }
        };
        let sampler = Sampler::start(server.measured_pid);
        let window = run_window(&server.server, server.measured_pid, &spec);
        let memory = sampler.finish();
        Measurement {
            window,
            rss_peak_kb: memory.hwm_peak_kb.max(memory.rss_sum_peak_kb),
            rss_end_kb: crate::sys::procfs::tree_rss_kb(server.measured_pid),
        }
    }

    fn died(&mut self, server: &Started) -> Option<CellError> {
        server
            .server
            .exited_keep_zombie()
            .then(|| super::window::died(&server.server))
    }

    fn answers(&mut self, server: &Started, plan: &Plan) -> Option<CellError> {
        let limit = Duration::from_secs(5);
        let agent = crate::http::probe::agent(limit);
        let workload = plan.workload().ok()?;
        let sent = Instant::now();
        let log = || server.server.log_tail(200);
        match crate::http::probe::probe(&agent, &server.base, workload) {
            Ok(_) => None,
            Err(_) => Some(CellError::StoppedAnswering {
                waited: sent.elapsed(),
                log: super::causes::salient(&log()),
                cause: super::causes::known_cause(None, &log()),
            }),
        }
    }

    fn stop(&mut self, mut server: Started) {
        server.stop();
    }

    fn now(&self) -> Instant {
        Instant::now()
    }
}
