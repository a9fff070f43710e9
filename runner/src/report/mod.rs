//! From a run's JSON to the published page: the view model (`view`, compared with the `previous`
//! run), how figures are written (`format`), the SVG charts (`charts`), and the templates
//! rendered with both (`render`).

pub mod charts;
pub mod containers;
pub mod format;
pub mod front;
pub mod hostile;
pub mod links;
pub mod readme;
pub mod render;
pub mod versions;
pub mod view;
pub mod where_time;

pub use render::render_all;
