//! The product areas. Each has its REST skin (`api.rs`), its rules (`service.rs`) and, where
//! it keeps rows, its SQL (`repo.rs`).

pub mod accounts;
pub mod chat;
pub mod fields;
pub mod live;
pub mod media;
pub mod mirrors;
pub mod music;
pub mod page;
pub mod premium;
pub mod storage;
pub mod subscription;
pub mod system;
pub mod tactical;
pub mod writers;
