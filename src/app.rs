//! The app: the pure model that turns inputs into events (`model`, `states`,
//! `reorder`), and `App`, the state of the screen, changed only by
//! `App::update`.

pub mod model;
pub mod reorder;
pub mod states;
