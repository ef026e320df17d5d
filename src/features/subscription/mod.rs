//! Subscriptions: tiers, feature gates, usage quotas (as reservations), tier changes and
//! payments.

pub mod admission;
pub mod api;
pub mod model;
pub mod payment;
pub mod quota;
pub mod service;
pub mod store;

/// The tiers and what they include: plain data, kept in a leaf module (`crate::plans`) because
/// the configuration, the AI providers and the work queue read it too.
pub use crate::plans as plan;
pub use quota::{Quotas, Reservation};
pub use service::SubscriptionService;
