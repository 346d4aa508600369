//! Running steps on other hosts (DESIGN §17): over the OpenSSH client, `docker exec` or
//! `kubectl exec`, each step under the host's `timeout` (see [`bootstrap`]).

pub(crate) mod attempt;
pub(crate) mod bootstrap;
pub(crate) mod preflight;
pub(crate) mod probe_request;
mod step;
pub(crate) mod transport;
