//! What a run produces: the schema of its JSON (`schema`), how its files are laid out and written
//! (`store`), the flags that explain a cell's numbers (`flags`), and the machine it ran on
//! (`environment`).

pub mod diagnosis;
pub mod environment;
pub mod flags;
pub mod measured;
pub mod preflight;
pub mod privacy;
pub mod records;
pub mod schema;
pub mod store;

pub use flags::Flag;
pub use schema::{
    Bound, CellResult, Environment, Estimates, GeneratorFloor, LaunchResult, LinkResult, Metrics,
    Ratio, RoundFigures, Run, Share, Status, Timing, ToolInfo, RUN_SCHEMA,
};
pub use store::{load_run_dir, read_run, stored_runs, summary, write_atomic, write_json_atomic, RunDir};
