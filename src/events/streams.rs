//! How many live streams are open, per user and per client IP, within `[events]`'s bounds: a
//! stream holds a [`StreamPermit`] for as long as it is open, and gives it back when dropped
//! (however the stream ends: the client left, the server shut down, an error).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::error::{AppError, AppResult};

/// Open streams, gauged in `/metrics`.
pub const OPEN_STREAMS: &str = "optima_open_streams";

#[derive(Default)]
struct Counts {
    users: HashMap<String, u32>,
    ips: HashMap<IpAddr, u32>,
    open: u64,
}

pub struct StreamLimits {
    per_user: u32,
    per_ip: u32,
    counts: Mutex<Counts>,
}

/// One open stream's place in the counts.
pub struct StreamPermit {
    limits: Arc<StreamLimits>,
    user: String,
    ip: IpAddr,
}

impl StreamLimits {
    pub fn new(per_user: u32, per_ip: u32) -> Arc<Self> {
        Arc::new(Self { per_user, per_ip, counts: Mutex::default() })
    }

    /// A place for one more stream of `user` from `ip`, or 429 `too_many_streams`.
    pub fn admit(self: &Arc<Self>, user: &str, ip: IpAddr) -> AppResult<StreamPermit> {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let (by_user, by_ip) = (counts.users.get(user).copied().unwrap_or(0), counts.ips.get(&ip).copied().unwrap_or(0));
        let refuse = |whose: &str, max: u32| AppError::TooManyRequests {
            code: "too_many_streams",
            message: format!("{whose} already has {max} live streams open (events.max_streams_per_{}); close one first", if whose == "this user" { "user" } else { "ip" }),
            retry_after_secs: 5,
            details: None,
        };
        if by_user >= self.per_user {
            return Err(refuse("this user", self.per_user));
        }
        if by_ip >= self.per_ip {
            return Err(refuse("this client address", self.per_ip));
        }
        *counts.users.entry(user.to_owned()).or_default() += 1;
        *counts.ips.entry(ip).or_default() += 1;
        counts.open += 1;
        metrics::gauge!(OPEN_STREAMS).set(counts.open as f64);
        Ok(StreamPermit { limits: self.clone(), user: user.to_owned(), ip })
    }

    /// Streams open now.
    pub fn open(&self) -> u64 {
        self.counts.lock().unwrap_or_else(|e| e.into_inner()).open
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut counts = self.limits.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = counts.users.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                counts.users.remove(&self.user);
            }
        }
        if let Some(n) = counts.ips.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.ips.remove(&self.ip);
            }
        }
        counts.open -= 1;
        metrics::gauge!(OPEN_STREAMS).set(counts.open as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_stream_gives_its_place_back() {
        let limits = StreamLimits::new(2, 3);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let a = limits.admit("ann", ip).unwrap();
        let _b = limits.admit("ann", ip).unwrap();
        assert!(matches!(limits.admit("ann", ip), Err(AppError::TooManyRequests { code: "too_many_streams", .. })));
        let _c = limits.admit("bob", ip).unwrap();
        assert!(limits.admit("cy", ip).is_err(), "the address is at its bound");
        drop(a);
        assert_eq!(limits.open(), 2);
        limits.admit("ann", ip).unwrap();
    }
}
