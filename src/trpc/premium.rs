//! `r3al.premium.generateImage` and `getImageHistory` in the app's shapes.

use serde_json::{Map, Value, json};

use super::shape::{UserPage, input, object, rename, signed_in, success};
use crate::services::Services;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::features::premium::model::{GenerateImage, ImageGeneration, PER_PAGE};

/// An image as the app names it: `imageId` is the generation's id.
fn app_image(g: &ImageGeneration) -> AppResult<Map<String, Value>> {
    let mut image = object(g)?;
    rename(&mut image, &[("generationId", "imageId")]);
    Ok(image)
}

pub async fn generate_image(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let made = state.premium.generate(&caller, input::<GenerateImage>(raw)?).await?;
    success(json!({ "image": app_image(&made.generation)?, "usage": made.usage }))
}

pub async fn get_image_history(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let page: UserPage = input(raw)?;
    let history = state.premium.history(&caller, &page.user_id, page.limit.unwrap_or(PER_PAGE), page.offset).await?;
    let images = history.images.iter().map(app_image).collect::<AppResult<Vec<_>>>()?;
    success(json!({ "images": images, "total": history.total, "hasMore": history.has_more }))
}
