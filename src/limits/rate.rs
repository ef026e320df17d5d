//! Per-client request budgets: one keyed GCRA limiter (governor) per route class and key kind.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::class::RouteClass;
use crate::config::{LimitsConfig, RateBudget};

/// Which key's budget ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Ip,
    User,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Ip => "ip",
            KeyKind::User => "user",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Refusal {
    pub key: KeyKind,
    pub retry_after: Duration,
}

struct Budget {
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_user: Option<DefaultKeyedRateLimiter<String>>,
}

fn quota(per_minute: u32, burst: u32) -> Option<Quota> {
    let per_minute = NonZeroU32::new(per_minute)?;
    Some(Quota::per_minute(per_minute).allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN)))
}

impl Budget {
    fn new(b: RateBudget) -> Self {
        Self {
            per_ip: quota(b.per_ip_per_minute, b.burst).map(RateLimiter::keyed),
            per_user: quota(b.per_user_per_minute, b.burst).map(RateLimiter::keyed),
        }
    }
}

/// IPv6 clients are counted by their /64: one host usually holds a whole /64.
pub fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !u128::from(u64::MAX))),
        v4 => v4,
    }
}

pub struct RateLimits {
    budgets: [Budget; 3],
    clock: DefaultClock,
}

impl RateLimits {
    pub fn new(config: &LimitsConfig) -> Self {
        Self {
            budgets: [Budget::new(config.login), Budget::new(config.generation), Budget::new(config.general)],
            clock: DefaultClock::default(),
        }
    }

    fn budget(&self, class: RouteClass) -> &Budget {
        &self.budgets[match class {
            RouteClass::Login => 0,
            RouteClass::Generation => 1,
            RouteClass::General => 2,
        }]
    }

    /// Takes one request from the IP's budget, then from the user's. Login is counted by IP
    /// only: its callers have no token yet.
    pub fn check(&self, class: RouteClass, ip: Option<IpAddr>, user: Option<&str>) -> Result<(), Refusal> {
        let budget = self.budget(class);
        let refused = |key, not_until: governor::NotUntil<_>| Refusal { key, retry_after: not_until.wait_time_from(self.clock.now()) };
        if let (Some(limiter), Some(ip)) = (&budget.per_ip, ip) {
            limiter.check_key(&ip_key(ip)).map_err(|n| refused(KeyKind::Ip, n))?;
        }
        if let (Some(limiter), Some(user), false) = (&budget.per_user, user, class == RouteClass::Login) {
            // Keyed by an owned String: the map needs one, and only tokens that verified get here.
            limiter.check_key(&user.to_owned()).map_err(|n| refused(KeyKind::User, n))?;
        }
        Ok(())
    }

    /// Drops the state of keys whose budget is full again, so memory follows active clients.
    pub fn forget_idle(&self) {
        for budget in &self.budgets {
            if let Some(l) = &budget.per_ip {
                l.retain_recent();
                l.shrink_to_fit();
            }
            if let Some(l) = &budget.per_user {
                l.retain_recent();
                l.shrink_to_fit();
            }
        }
    }

    /// Keys currently tracked, for tests and metrics.
    pub fn tracked_keys(&self) -> usize {
        self.budgets
            .iter()
            .map(|b| b.per_ip.as_ref().map_or(0, |l| l.len()) + b.per_user.as_ref().map_or(0, |l| l.len()))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(login: RateBudget, general: RateBudget) -> RateLimits {
        let mut config = crate::config::Config::default().limits;
        config.login = login;
        config.general = general;
        RateLimits::new(&config)
    }

    const IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 7)));

    #[test]
    fn a_burst_passes_then_the_next_request_waits_about_one_interval() {
        let off = RateBudget { per_ip_per_minute: 0, per_user_per_minute: 0, burst: 0 };
        let l = limits(RateBudget { per_ip_per_minute: 6, per_user_per_minute: 0, burst: 3 }, off);
        for _ in 0..3 {
            l.check(RouteClass::Login, IP, None).expect("within the burst");
        }
        let refusal = l.check(RouteClass::Login, IP, None).unwrap_err();
        assert_eq!(refusal.key, KeyKind::Ip);
        assert!(refusal.retry_after > Duration::from_secs(8) && refusal.retry_after <= Duration::from_secs(10));
        // Another client and another class are not affected.
        l.check(RouteClass::Login, Some("203.0.113.8".parse().unwrap()), None).unwrap();
        l.check(RouteClass::General, IP, Some("u1")).unwrap();
    }

    #[test]
    fn users_have_their_own_budget_and_login_ignores_it() {
        let l = limits(
            RateBudget { per_ip_per_minute: 0, per_user_per_minute: 1, burst: 1 },
            RateBudget { per_ip_per_minute: 0, per_user_per_minute: 1, burst: 1 },
        );
        l.check(RouteClass::General, IP, Some("alice")).unwrap();
        assert_eq!(l.check(RouteClass::General, IP, Some("alice")).unwrap_err().key, KeyKind::User);
        l.check(RouteClass::General, IP, Some("bob")).unwrap();
        for _ in 0..5 {
            l.check(RouteClass::Login, IP, Some("alice")).unwrap();
        }
        assert_eq!(l.tracked_keys(), 2);
    }

    #[test]
    fn ipv6_clients_share_their_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(ip_key(a), ip_key(b));
        assert_ne!(ip_key(a), ip_key("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(ip_key(IP.unwrap()), IP.unwrap());
    }
}
