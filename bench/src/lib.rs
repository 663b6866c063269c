//! What the load generator (`chat-bench`) and the protocol fuzzer (`chat-fuzz`) share: a
//! Socket.io client over WebSocket, the mix of requests senders make, /proc readings, and the rule
//! that they only ever target this machine.

pub mod client;
pub mod mix;
pub mod proc_stats;

use std::net::IpAddr;

use anyhow::{Result, bail};

/// Load tests may only target this machine.
pub fn ensure_loopback(url: &str) -> Result<()> {
    let host = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', '?']).next())
        .unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        bail!("{url} is not a loopback address; only this machine may be loaded");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets_are_accepted() {
        for ok in [
            "http://127.0.0.1:4000",
            "http://localhost:1",
            "http://[::1]:4000/",
            "http://127.9.9.9",
        ] {
            assert!(ensure_loopback(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1:4000",
            "http://example.com",
            "http://192.168.1.2:80",
        ] {
            assert!(ensure_loopback(bad).is_err(), "{bad}");
        }
    }
}
