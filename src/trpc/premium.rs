//! `r3al.premium.generateImage` and `getImageHistory` in the app's shapes.

use serde::Deserialize;
use serde_json::{Value, json};

use super::procedures::{input, signed_in, success};
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::features::premium::model::GenerateImage;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GenerateInput {
    user_id: String,
    prompt: String,
    size: Option<String>,
    style: Option<String>,
    quality: Option<String>,
}

pub async fn generate_image(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: GenerateInput = input(raw)?;
    let request = GenerateImage { user_id: i.user_id, prompt: i.prompt, size: i.size, style: i.style, quality: i.quality };
    let made = state.premium.generate(&caller, request).await?;
    let g = made.generation;
    success(json!({
        "image": {
            "imageId": g.generation_id, "userId": g.user_id, "prompt": g.prompt, "revisedPrompt": g.revised_prompt,
            "size": g.size, "style": g.style, "imageUrl": g.image_url, "thumbnailUrl": g.thumbnail_url, "model": g.model,
            "status": g.status, "createdAt": g.created_at,
        },
        "usage": { "used": made.usage.used, "limit": made.usage.limit, "remaining": made.usage.remaining, "resetAt": made.usage.reset_at },
    }))
}

fn twenty() -> u32 {
    20
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HistoryInput {
    user_id: String,
    #[serde(default = "twenty")]
    limit: u32,
    #[serde(default)]
    offset: u32,
}

pub async fn get_image_history(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: HistoryInput = input(raw)?;
    let history = state.premium.history(&caller, &i.user_id, i.limit, i.offset).await?;
    let images: Vec<Value> = history
        .images
        .iter()
        .map(|g| {
            json!({
                "imageId": g.generation_id, "prompt": g.prompt, "imageUrl": g.image_url, "thumbnailUrl": g.thumbnail_url,
                "size": g.size, "style": g.style, "createdAt": g.created_at,
            })
        })
        .collect();
    success(json!({ "images": images, "total": history.total, "hasMore": history.has_more }))
}
