//! Limit/offset pagination shared by every list.

use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: u32,
    pub offset: u32,
}

impl Page {
    pub const MAX_LIMIT: u32 = 200;

    pub fn new(limit: u32, offset: u32) -> AppResult<Self> {
        if !(1..=Self::MAX_LIMIT).contains(&limit) {
            return Err(AppError::invalid_field("limit", format!("must be 1 to {}", Self::MAX_LIMIT)));
        }
        Ok(Self { limit, offset })
    }

    /// Whether rows remain after the `returned` ones of this page.
    pub fn has_more(&self, returned: usize, total: u64) -> bool {
        u64::from(self.offset) + (returned as u64) < total
    }
}
