//! Running steps on other hosts (DESIGN §17): over the OpenSSH client, `docker exec` or
//! `kubectl exec`, one session per host and run, each step under the host's `timeout` (see
//! [`bootstrap`] and [`session`]).

pub(crate) mod attempt;
pub(crate) mod bootstrap;
pub(crate) mod preflight;
pub(crate) mod probe_request;
pub(crate) mod session;
mod step;
pub(crate) mod transport;
