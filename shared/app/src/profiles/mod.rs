//! Configuration profiles (SPEC 8) on the console's side: materializing each
//! appliance's effective configuration when profiles, assignments or tags change
//! ([`materialize`]), handing the changes over at check-in ([`delivery`]) and
//! recording what the appliance made of them ([`results`]).

pub mod delivery;
pub mod materialize;
pub mod results;
