//! The OpenAPI document: every area's API struct combined into one service, the spec it serves
//! (with the operations written by hand and the services' rules), the Swagger UI page, and the
//! `Allow` header derived from it.

pub mod allow;
mod rules;

use poem_openapi::OpenApiService;

use crate::features::accounts::api::AccountsApi;
use crate::features::chat::api::{ChatApi, CompletionApi};
use crate::features::live::api::LiveApi;
use crate::features::media::api::MediaApi;
use crate::features::music::api::MusicApi;
use crate::features::premium::api::PremiumApi;
use crate::features::storage::api::StorageApi;
use crate::features::subscription::api::SubscriptionApi;
use crate::features::system::api::SystemApi;
use crate::features::tactical::api::TacticalApi;
use crate::features::writers::api::WritersApi;

pub type Apis = (SystemApi, AccountsApi, StorageApi, SubscriptionApi, ChatApi, MusicApi, WritersApi, TacticalApi, PremiumApi, MediaApi, LiveApi, CompletionApi);

const DESCRIPTION: &str = r#"The R3AL cloud backend.

**Authorize**: register or log in (`/api/auth/*`) or mint a token with `optima token --user ID`,
then press *Authorize* and paste the token.

**Errors** always have the body `{"error":{"code","message","details?"}}`.

**tRPC**: the same services answer the R3AL app's tRPC client at `/api/trpc/{procedure}`
(tRPC v11 over HTTP with the superjson envelope, batching with `?batch=1`).

**Delivery**: `GET|HEAD /cdn/{bucket}/{path}` serves objects (documented below), and `PUT` on the
same URL uploads with a signed `PUT` URL."#;

pub fn service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (SystemApi, AccountsApi, StorageApi, SubscriptionApi, ChatApi, MusicApi, WritersApi, TacticalApi, PremiumApi, MediaApi, LiveApi, CompletionApi),
        "Optima",
        env!("CARGO_PKG_VERSION"),
    )
        .description(DESCRIPTION)
}

/// The OpenAPI document, with `/cdn/{bucket}/{path}` added by hand: its object path spans
/// several segments, which poem-openapi's path syntax cannot express.
pub fn spec_json(service: &OpenApiService<Apis, ()>) -> String {
    let mut spec: serde_json::Value = serde_json::from_str(&service.spec()).expect("poem-openapi emits JSON");
    spec["paths"]["/cdn/{bucket}/{path}"] = cdn_path_item();
    spec["paths"]["/api/subscription/webhook/stripe"] = stripe_webhook_item();
    spec["paths"]["/s/{share_id}"] = share_page_item();
    spec["paths"]["/s/{share_id}/audio"] = share_audio_item();
    rules::apply(&mut spec);
    for operation in spec["paths"].as_object_mut().expect("the spec has paths").values_mut().flat_map(|i| i.as_object_mut()).flat_map(|i| i.values_mut()) {
        only_named_form_fields(operation);
        files_of_any_type(operation);
    }
    serde_json::to_string_pretty(&spec).expect("a JSON value serialises")
}

/// The Swagger UI page, showing `spec` (the served `/openapi.json`, with the operations written
/// by hand) instead of the spec poem-openapi derives alone: poem-openapi embeds its own spec in
/// the page, so that text is swapped for the whole one.
pub fn docs_page(service: &OpenApiService<Apis, ()>, spec: &str) -> String {
    let derived = service.spec();
    let page = service.swagger_ui_html();
    assert!(page.contains(&derived), "poem-openapi's Swagger UI page embeds its spec verbatim");
    page.replacen(&derived, spec, 1)
}

/// Multipart forms take the fields they name and no others (`deny_unknown_fields`): a field
/// the handler would not read is refused, not silently dropped, and the spec says so.
fn only_named_form_fields(operation: &mut serde_json::Value) {
    if let Some(schema) = operation.pointer_mut("/requestBody/content/multipart~1form-data/schema").and_then(|s| s.as_object_mut()) {
        schema.insert("additionalProperties".into(), false.into());
    }
}

/// A response whose `Content-Type` the handler sets from the stored file (a decrypted
/// attachment, an export in the asked format) is documented as any type, not poem-openapi's
/// `application/octet-stream` for the byte payload.
fn files_of_any_type(operation: &mut serde_json::Value) {
    for response in operation["responses"].as_object_mut().into_iter().flat_map(|r| r.values_mut()) {
        let Some(headers) = response.get_mut("headers").and_then(|h| h.as_object_mut()) else { continue };
        if headers.remove("CONTENT-TYPE").is_none() {
            continue;
        }
        if headers.is_empty() {
            response.as_object_mut().expect("a response is an object").remove("headers");
        }
        if let Some(content) = response.get_mut("content").and_then(|c| c.as_object_mut())
            && let Some(media) = content.remove("application/octet-stream")
        {
            content.insert("*/*".into(), media);
        }
    }
}

fn error_response(description: &str) -> serde_json::Value {
    serde_json::json!({
        "description": description,
        "content": { "application/json; charset=utf-8": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } }
    })
}

fn share_param() -> serde_json::Value {
    serde_json::json!([{ "name": "share_id", "in": "path", "required": true, "schema": { "type": "string" } }])
}

fn share_page_item() -> serde_json::Value {
    serde_json::json!({
        "get": {
            "tags": ["Music"],
            "summary": "Public page of a shared track",
            "description": "HTML with the title, a player streaming the preview, and OpenGraph/Twitter tags so a link unfurls. No token.",
            "operationId": "sharePage",
            "security": [{}],
            "parameters": share_param(),
            "responses": {
                "200": { "description": "The page", "content": { "text/html; charset=utf-8": { "schema": { "type": "string" } } } },
                "404": error_response("Not shared (any more)"),
            }
        }
    })
}

fn share_audio_item() -> serde_json::Value {
    let audio = serde_json::json!({ "audio/mpeg": { "schema": { "type": "string", "format": "binary" } } });
    serde_json::json!({
        "get": {
            "tags": ["Music"],
            "summary": "Stream a shared track's preview",
            "description": "MP3 with Range support; a play is counted when a listener starts from the beginning. No token.",
            "operationId": "shareAudio",
            "security": [{}],
            "parameters": share_param(),
            "responses": {
                "200": { "description": "The preview", "content": audio },
                "206": { "description": "A byte range of it", "content": audio },
                "304": { "description": "Not modified" },
                "404": error_response("Not shared (any more)"),
                "416": error_response("Range not satisfiable"),
            }
        }
    })
}

fn stripe_webhook_item() -> serde_json::Value {
    serde_json::json!({
        "post": {
            "tags": ["Subscription"],
            "summary": "Stripe webhook",
            "description": "Stripe's events, authenticated by `Stripe-Signature` over the raw body (no bearer). `payment_intent.succeeded` for a payment this server started activates its tier; an event seen before changes nothing; signatures older than `subscription.stripe.webhook_tolerance_secs` are refused as replays.",
            "operationId": "stripeWebhook",
            "security": [{}],
            "parameters": [{ "name": "Stripe-Signature", "in": "header", "required": true, "schema": { "type": "string" } }],
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object" } } } },
            "responses": {
                "200": { "description": "Applied (or already applied)", "content": { "application/json; charset=utf-8": { "schema": {
                    "type": "object",
                    "required": ["received", "duplicate", "effect"],
                    "properties": { "received": { "type": "boolean" }, "duplicate": { "type": "boolean" }, "effect": { "type": "string" } }
                } } } },
                "400": error_response("Bad signature, replay, or not a Stripe event"),
                "404": error_response("Stripe is not enabled on this server"),
            }
        }
    })
}

fn cdn_path_item() -> serde_json::Value {
    let params = serde_json::json!([
        { "name": "bucket", "in": "path", "required": true, "schema": { "type": "string" },
          "description": "Full bucket name, e.g. `r3al-user-media`" },
        { "name": "path", "in": "path", "required": true, "schema": { "type": "string" },
          "description": "Object path, `/`-separated, each segment percent-encoded" },
        { "name": "expires", "in": "query", "required": false, "schema": { "type": "integer", "format": "int64" },
          "description": "Signed URLs: expiry (Unix seconds)" },
        { "name": "signature", "in": "query", "required": false, "schema": { "type": "string" },
          "description": "Signed URLs: the signature" }
    ]);
    let binary = serde_json::json!({ "*/*": { "schema": { "type": "string", "format": "binary" } } });
    serde_json::json!({
        "get": {
            "tags": ["Storage"],
            "summary": "Download an object",
            "description": "Streams the object with Content-Type, ETag, Last-Modified, Cache-Control and Accept-Ranges. Supports one `Range` (206, or 416 when unsatisfiable) and `If-None-Match` / `If-Modified-Since` (304). Private buckets need a signed URL or a bearer token allowed to read the object. With `storage.backend = \"gcs\"` and `storage.gcs.delivery = \"redirect\"` the answer is instead a 302 to a short-lived GCS signed URL.",
            "operationId": "cdnGet",
            "parameters": params,
            "security": [{}, { "BearerAuth": [] }],
            "responses": {
                "200": { "description": "The object", "content": binary },
                "206": { "description": "The requested byte range", "content": binary },
                "302": { "description": "GCS redirect delivery: `Location` is a signed GCS URL of the object" },
                "304": { "description": "Not modified" },
                "400": error_response("Invalid bucket or path"),
                "401": error_response("Private object without a signature or bearer"),
                "403": error_response("Invalid or expired signature, or not the caller's object"),
                "404": error_response("No such object"),
                "416": error_response("Range not satisfiable"),
                "502": error_response("The object store answered with an error"),
                "503": error_response("The object store cannot be reached"),
            }
        },
        "put": {
            "tags": ["Storage"],
            "summary": "Upload with a signed PUT URL",
            "operationId": "cdnPut",
            "parameters": params,
            "security": [{}, { "BearerAuth": [] }],
            "requestBody": { "required": true, "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } },
            "responses": {
                "201": { "description": "Stored", "content": { "application/json; charset=utf-8": { "schema": { "$ref": "#/components/schemas/StoredObject" } } } },
                "400": error_response("Invalid bucket or path"),
                "401": error_response("No signature or bearer"),
                "403": error_response("Invalid or expired signature, or not the caller's path"),
                "409": error_response("The path runs through an existing object"),
                "413": error_response("Larger than the upload limit"),
                "502": error_response("The object store answered with an error"),
                "503": error_response("The object store cannot be reached"),
            }
        }
    })
}
