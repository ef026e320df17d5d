//! The memory budget for decoding images: however many uploads arrive at once, the decodes in
//! progress together hold at most `media.decode_memory_mb`.
//!
//! A decode reserves, before it allocates anything, the peak its header says it will reach
//! (see [`images::Header::decode_bytes`](super::images::Header::decode_bytes) and the resizers'
//! `*_bytes`). Reservations are served first come, first served; one that cannot be met within
//! `media.decode_wait_secs` is refused with [`ImageError::Busy`] (503, Retry-After), and one
//! larger than the whole budget at once with [`ImageError::OverBudget`] (413). The reservation
//! is released when it is dropped: move it into the blocking task that decodes, so that a client
//! that goes away does not free memory the task still holds.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::images::{Header, ImageError};

pub const DECODE_RESERVED: &str = "optima_image_decode_reserved_bytes";
pub const DECODE_REFUSED: &str = "optima_image_decode_refused_total";

/// The budget's unit: permits are KiB, so a `u32` request covers up to 4 TiB.
const UNIT: u64 = 1024;

/// What a refused caller is told to wait before retrying.
const RETRY_AFTER_SECS: u64 = 5;

pub struct DecodeBudget {
    permits: Arc<Semaphore>,
    total_units: u32,
    wait: Duration,
}

/// Memory reserved for one decode; given back when dropped.
pub struct Reservation {
    _permit: OwnedSemaphorePermit,
    units: u32,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        metrics::gauge!(DECODE_RESERVED).decrement(f64::from(self.units) * UNIT as f64);
    }
}

impl DecodeBudget {
    /// A budget of `total_bytes` (rounded down to whole KiB); a reservation waits at most `wait`.
    pub fn new(total_bytes: u64, wait: Duration) -> Self {
        let total_units = u32::try_from(total_bytes / UNIT).unwrap_or(u32::MAX).min(max_units());
        Self { permits: Arc::new(Semaphore::new(total_units as usize)), total_units, wait }
    }

    /// Reserves `bytes` for decoding the image `header` describes, waiting for other decodes to
    /// finish if need be.
    pub async fn reserve(&self, header: &Header, bytes: u64) -> Result<Reservation, ImageError> {
        let units = bytes.div_ceil(UNIT);
        let Some(units) = u32::try_from(units).ok().filter(|&u| u <= self.total_units) else {
            metrics::counter!(DECODE_REFUSED, "reason" => "over_budget").increment(1);
            return Err(ImageError::OverBudget {
                width: header.width,
                height: header.height,
                needed: bytes.div_ceil(1024 * 1024),
                budget: u64::from(self.total_units) * UNIT / (1024 * 1024),
            });
        };
        let acquire = self.permits.clone().acquire_many_owned(units);
        match tokio::time::timeout(self.wait, acquire).await {
            Ok(Ok(permit)) => {
                metrics::gauge!(DECODE_RESERVED).increment(f64::from(units) * UNIT as f64);
                Ok(Reservation { _permit: permit, units })
            }
            // The semaphore is never closed; a timeout and a closed budget both mean "not now".
            Ok(Err(_)) | Err(_) => {
                metrics::counter!(DECODE_REFUSED, "reason" => "busy").increment(1);
                Err(ImageError::Busy { retry_after_secs: RETRY_AFTER_SECS })
            }
        }
    }

    /// Bytes not reserved now.
    pub fn available_bytes(&self) -> u64 {
        self.permits.available_permits() as u64 * UNIT
    }
}

/// The most permits a tokio semaphore holds, as `u32`.
fn max_units() -> u32 {
    u32::try_from(Semaphore::MAX_PERMITS).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::images::{self, SourceFormat};

    const HEADER: Header = Header {
        format: SourceFormat::Png,
        width: 100,
        height: 100,
        decoder_bytes_per_pixel: 3,
        output_bytes_per_pixel: 3,
    };

    const MIB: u64 = 1024 * 1024;

    #[tokio::test]
    async fn reservations_share_the_budget_and_give_it_back() {
        let budget = DecodeBudget::new(10 * MIB, Duration::ZERO);
        let first = budget.reserve(&HEADER, 6 * MIB).await.expect("fits");
        assert_eq!(budget.available_bytes(), 4 * MIB);
        // Partial KiB round up.
        let second = budget.reserve(&HEADER, 4 * MIB - 1).await.expect("fits");
        assert_eq!(budget.available_bytes(), 0);
        match budget.reserve(&HEADER, 1).await {
            Err(ImageError::Busy { retry_after_secs }) => assert_eq!(retry_after_secs, RETRY_AFTER_SECS),
            Err(e) => panic!("expected Busy, got {e}"),
            Ok(_) => panic!("expected Busy, got a reservation"),
        }
        drop(first);
        assert_eq!(budget.available_bytes(), 6 * MIB);
        drop(second);
        budget.reserve(&HEADER, 10 * MIB).await.expect("the whole budget is free again");
    }

    #[tokio::test]
    async fn a_waiting_reservation_gets_what_is_given_back() {
        let budget = Arc::new(DecodeBudget::new(10 * MIB, Duration::from_secs(3600)));
        let held = budget.reserve(&HEADER, 8 * MIB).await.expect("fits");
        let waiting = tokio::spawn({
            let budget = budget.clone();
            async move { budget.reserve(&HEADER, 5 * MIB).await.map(|_| ()) }
        });
        // The test runtime has one thread: this lets the task run until it waits on the budget.
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "5 MiB do not fit while 8 of 10 are held");
        drop(held);
        waiting.await.unwrap().expect("served once the first was given back");
    }

    #[tokio::test]
    async fn more_than_the_whole_budget_is_refused_at_once() {
        let budget = DecodeBudget::new(10 * MIB, Duration::from_secs(3600));
        match budget.reserve(&HEADER, 10 * MIB + 1).await {
            Err(ImageError::OverBudget { needed, budget, .. }) => assert_eq!((needed, budget), (11, 10)),
            Err(e) => panic!("expected OverBudget, got {e}"),
            Ok(_) => panic!("expected OverBudget, got a reservation"),
        }
    }

    /// The defaults fit together: the largest photo a phone takes (8192 × 6144, RGB JPEG, EXIF
    /// orientation turning it upright) is within the pixel limit and its decode and resizing
    /// fit in the default budget, avatar or photo.
    #[test]
    fn the_default_budget_admits_the_largest_phone_photo() {
        let media = crate::config::Config::default().media;
        let photo = Header { format: SourceFormat::Jpeg, width: 8192, height: 6144, decoder_bytes_per_pixel: 3, output_bytes_per_pixel: 3 };
        assert!(photo.pixels() <= media.max_image_pixels && photo.width <= media.max_image_side);
        let budget = media.decode_memory_mb * MIB;
        let photo_peak = photo.decode_bytes().max(images::fit_within_bytes(&photo, media.photo_long_side));
        let avatar_peak = photo.decode_bytes().max(images::square_avatar_bytes(&photo, 512));
        assert!(photo_peak <= budget && avatar_peak <= budget, "{} and {} MiB", photo_peak / MIB, avatar_peak / MIB);
    }
}

