//! Subscriptions: tiers, feature gates, usage quotas (as reservations), tier changes and
//! payments.

pub mod api;
pub mod model;
pub mod payment;
pub mod plan;
pub mod quota;
mod repo;
pub mod service;

pub use quota::{Quotas, Reservation};
pub use service::SubscriptionService;
