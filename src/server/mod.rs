//! `runbook serve`: the site from memory, with search, a JSON API, metrics and live reload.
