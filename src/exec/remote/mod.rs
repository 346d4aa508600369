//! Running steps on other hosts (DESIGN §17): over the OpenSSH client, `docker exec` or
//! `kubectl exec`, each step under the host's `timeout` (see [`bootstrap`]).

pub mod attempt;
pub mod bootstrap;
pub mod preflight;
pub mod probe_request;
mod step;
pub mod transport;
