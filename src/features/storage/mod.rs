//! Object storage over HTTP: uploads, deletes, signed URLs (`api`), and delivery under
//! `/cdn/{bucket}/{path}` (`cdn`), with the access rules in `service`.

pub mod api;
pub mod cdn;
pub mod model;
pub mod service;

pub use service::StorageService;
