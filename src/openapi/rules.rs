//! The services' input rules, written into the published spec.
//!
//! Many request fields are plain strings that the services parse (so an unknown value is
//! refused, and audited, by the code that enforces every other rule, for REST and tRPC
//! alike). poem-openapi documents them as free text; a client or a fuzzer reading the spec
//! would then send values the server is bound to refuse. Here each such field gets the
//! closed set or shape its service accepts, from the same vocabularies the services parse
//! with. The spec may be narrower than the server (the services also take other letter
//! cases), never wider.

use serde_json::{Value, json};

use crate::ai::music::composer::Style;
use crate::features::media::nft::{COLOR_SCHEMES, STYLES};
use crate::features::music::share::Platform;
use crate::features::subscription::plan::{Feature, Tier};
use crate::features::tactical::stress::SessionType;
use crate::features::tactical::model::{Clearance, IncidentStatus, MessageType, OperationalStatus, Priority, ServiceBranch, Severity};
use crate::features::writers::export::Format;
use crate::blobs::Bucket;

/// A key as the composer reads it: a letter, an accidental, a mode (`C`, `F#`, `Bb minor`,
/// `Am`). Spaces only where the composer trims them; the composer also takes other cases.
/// Blank is no key.
const KEY: &str = "^ *([A-Ga-g] *(#|♯|sharp|b|♭|flat)? *(m|min|minor|maj|major)? *)?$";

/// Text with at least one non-space character: the services trim, then refuse what is empty.
const NOT_BLANK: &str = r"\S";

fn one_of<'a>(values: impl IntoIterator<Item = &'a str>) -> Value {
    json!({ "enum": values.into_iter().collect::<Vec<_>>() })
}

fn features(only_metered: bool) -> Value {
    let names = Feature::ALL.into_iter().filter(|f| !only_metered || f.is_metered()).map(Feature::as_str);
    // `chat` is the app's name for `ai_chat`.
    one_of(names.chain(["chat"]))
}

fn platforms() -> Value {
    // `x` is the app's name for twitter.
    one_of(Platform::ALL.into_iter().map(Platform::as_str).chain(["x"]))
}

/// The services read times as RFC 3339.
fn date_time() -> Value {
    json!({ "format": "date-time" })
}

fn buckets() -> Value {
    one_of(Bucket::ALL.into_iter().flat_map(|b| [b.alias(), b.name()]))
}

/// Where a rule goes: a request body schema's property, or an operation's parameter.
enum At {
    Property(&'static str, &'static str),
    Parameter(&'static str, &'static str, &'static str),
    /// A field of an operation's multipart form.
    Form(&'static str, &'static str, &'static str),
}

fn rules() -> Vec<(At, Value)> {
    use At::{Form, Parameter, Property};
    let tiers = one_of(Tier::ALL.into_iter().map(Tier::as_str).chain(["tactical"]));
    let guild_tiers = one_of(["novice", "wordsmith", "master", "basic", "premium", "unlimited"]);
    let formats = one_of(Format::ALL.into_iter().map(Format::extension).chain(["markdown", "htm", "text"]));
    let clearance = one_of(Clearance::ACCEPTED.iter().copied());
    let priority = one_of(Priority::ACCEPTED.iter().copied());
    let message_type = one_of(MessageType::ACCEPTED.iter().copied());
    let severity = one_of(Severity::ACCEPTED.iter().copied());
    let incident_status = one_of(IncidentStatus::ACCEPTED.iter().copied());
    let not_blank = json!({ "pattern": NOT_BLANK });
    vec![
        (Parameter("/api/subscription/check-access/{user_id}/{feature}", "get", "feature"), features(false)),
        (Property("CheckAccessRequest", "feature"), features(false)),
        (Property("TrackUsageRequest", "feature"), features(true)),
        (Property("UpgradeRequest", "newTier"), tiers),
        (Property("GuildUpgradeMember", "tier"), guild_tiers),
        (Parameter("/api/writers/project/{project_id}/export", "get", "format"), formats),
        (Property("SignedUrlRequest", "bucket"), buckets()),
        (Parameter("/cdn/{bucket}/{path}", "get", "bucket"), buckets()),
        (Parameter("/cdn/{bucket}/{path}", "put", "bucket"), buckets()),
        (Property("TacticalRegister", "serviceBranch"), one_of(ServiceBranch::ACCEPTED.iter().copied())),
        (Property("TacticalRegister", "requestedClearance"), clearance.clone()),
        (Property("TacticalRegister", "clearanceLevel"), clearance.clone()),
        (Property("TacticalVerify", "status"), one_of(["verified", "denied"])),
        (Property("TacticalVerify", "clearanceLevel"), clearance.clone()),
        (Property("TacticalStatusUpdate", "operationalStatus"), one_of(OperationalStatus::ACCEPTED.iter().copied())),
        (Property("TacticalSendComm", "classification"), clearance),
        (Property("TacticalSendComm", "priority"), priority.clone()),
        (Property("TacticalSendComm", "messageType"), message_type.clone()),
        (Parameter("/api/tactical/comm/{user_id}", "get", "priority"), priority.clone()),
        (Parameter("/api/tactical/comm/{user_id}", "get", "type"), message_type.clone()),
        (Parameter("/api/tactical/comms/{user_id}", "get", "priority"), priority),
        (Parameter("/api/tactical/comms/{user_id}", "get", "type"), message_type),
        (Property("TacticalReportIncident", "severity"), severity.clone()),
        (Property("TacticalReportIncident", "title"), not_blank.clone()),
        (Parameter("/api/tactical/incidents", "get", "severity"), severity),
        (Parameter("/api/tactical/incidents", "get", "status"), incident_status.clone()),
        (Property("TacticalIncidentUpdate", "status"), incident_status),
        (Parameter("/api/tactical/registrations", "get", "status"), one_of(["pending", "verified", "denied"])),
        (Property("TacticalCheckIn", "sessionType"), one_of(SessionType::ALL.iter().map(|s| s.as_str()))),
        (Property("PremiumGenerateImage", "prompt"), not_blank.clone()),
        (Property("NftTrait", "traitType"), not_blank.clone()),
        (Property("NftTrait", "value"), not_blank.clone()),
        (Property("Credentials", "username"), json!({ "pattern": "^[A-Za-z0-9_.@+-]+$" })),
        (Property("Credentials", "name"), not_blank.clone()),
        (Property("GuildRegisterMember", "specialties"), json!({ "items": { "maxLength": 50, "pattern": NOT_BLANK } })),
        (Property("GuildUpdateMember", "specialties"), json!({ "items": { "maxLength": 50, "pattern": NOT_BLANK } })),
        (Property("MusicGenerateRequest", "seed"), json!({ "minimum": 0, "maximum": u64::MAX })),
        (Property("MusicShareRequest", "platforms"), json!({ "minItems": 1 })),
        (Property("TacticalSendComm", "content"), not_blank.clone()),
        (Property("TacticalReportIncident", "description"), not_blank.clone()),
        (Parameter("/api/tactical/analysis/sr", "get", "analysisType"), one_of(["situational"])),
        (Parameter("/api/tactical/incidents", "get", "since"), date_time()),
        (Parameter("/api/tactical/comm/{user_id}", "get", "since"), date_time()),
        (Parameter("/api/tactical/comms/{user_id}", "get", "since"), date_time()),
        (Parameter("/api/tactical/audit", "get", "since"), date_time()),
        (Property("PremiumGenerateImage", "size"), one_of(["1024x1024", "1024x1792", "1792x1024"])),
        (Property("PremiumGenerateImage", "quality"), one_of(["standard", "hd"])),
        (Property("PremiumGenerateImage", "style"), one_of(["vivid", "natural"])),
        (Property("NftGenerate", "colorScheme"), one_of(COLOR_SCHEMES)),
        (Property("NftGenerate", "style"), one_of(STYLES)),
        (Property("MusicShareRequest", "platform"), platforms()),
        (Property("MusicShareRequest", "platforms"), json!({ "items": platforms() })),
        (Property("MusicMixRequest", "stems"), json!({ "minItems": 1 })),
        (Property("MusicCreateProject", "key"), json!({ "pattern": KEY })),
        (Property("MusicUpdateProject", "key"), json!({ "pattern": KEY })),
        // `generating` is set by generation only.
        (Property("MusicUpdateProject", "status"), one_of(["draft", "completed", "published", "archived"])),
        (Property("TacticalCreateTeam", "teamName"), not_blank.clone()),
        (Property("TacticalStressIndicators", "heartRate"), json!({ "minimum": 25, "maximum": 250 })),
        (Property("TacticalStressIndicators", "sleepQuality"), json!({ "minimum": 0, "maximum": 10 })),
        (Property("TacticalStressIndicators", "moodRating"), json!({ "minimum": 0, "maximum": 10 })),
        (Property("TacticalStressIndicators", "recentIncidents"), json!({ "items": { "maxLength": 200, "pattern": NOT_BLANK } })),
        (Form("/api/music/stem/upload", "post", "instrument"), not_blank.clone()),
        (Form("/api/storage/upload", "post", "bucket"), buckets()),
        (Form("/api/tactical/register", "post", "serviceBranch"), one_of(ServiceBranch::ACCEPTED.iter().copied())),
        (Form("/api/tactical/register", "post", "requestedClearance"), one_of(Clearance::ACCEPTED.iter().copied())),
        (Form("/api/tactical/register/{user_id}/documents", "post", "documents"), json!({ "minItems": 1, "maxItems": 10, "items": { "minLength": 1 } })),
        (Form("/api/tactical/register", "post", "documents"), json!({ "maxItems": 10, "items": { "minLength": 1 } })),
        (Property("MusicGenerateRequest", "style"), one_of(Style::ALL.into_iter().map(Style::as_str))),
        (Form("/api/storage/upload", "post", "path"), json!({ "minLength": 1 })),
        (Property("TacticalSendComm", "toUserIds"), json!({ "items": { "pattern": NOT_BLANK } })),
        (Property("TacticalSendComm", "toUserId"), not_blank.clone()),
        (Form("/api/tactical/comm/{comm_id}/attachments", "post", "file"), json!({ "minLength": 1 })),
        (Property("TacticalSendComm", "encryptedContent"), not_blank),
    ]
}

/// Merges `patch` into the object at `target`, recursively.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// Writes the rules into `spec`. A rule whose place is missing is a bug (a renamed schema or
/// parameter): it panics, and every test that starts a server finds it.
pub fn apply(spec: &mut Value) {
    for (at, patch) in rules() {
        let target = match at {
            At::Property(schema, field) => spec["components"]["schemas"][schema]["properties"].get_mut(field),
            At::Form(path, method, field) => spec["paths"][path][method]
                .pointer_mut(&format!("/requestBody/content/multipart~1form-data/schema/properties/{field}")),
            At::Parameter(path, method, name) => spec["paths"][path][method]["parameters"]
                .as_array_mut()
                .and_then(|ps| ps.iter_mut().find(|p| p["name"] == name))
                .map(|p| &mut p["schema"]),
        };
        let target = target.unwrap_or_else(|| panic!("spec rule for a missing place: {}", describe(&at)));
        // A `$ref` cannot carry siblings in OpenAPI 3.0: such fields are closed sets already.
        assert!(target.get("$ref").is_none(), "spec rule on a $ref: {}", describe(&at));
        merge(target, &patch);
        if let Some(Value::Array(values)) = patch.get("enum") {
            // An enum restates the set; a length bound beside it says nothing more.
            debug_assert!(!values.is_empty());
            if let Some(o) = target.as_object_mut() {
                o.remove("maxLength");
                o.remove("minLength");
            }
        }
    }
    // The music share request names its platforms in either form; with neither it is refused.
    spec["components"]["schemas"]["MusicShareRequest"]["anyOf"] = json!([given("platform", "string"), given("platforms", "array")]);
    // A comm carries its text or the client's ciphertext, not both; and recipients or a team,
    // not both.
    let comm = &mut spec["components"]["schemas"]["TacticalSendComm"];
    comm["oneOf"] = json!([given("content", "string"), given("encryptedContent", "string")]);
    comm["not"] = json!({ "anyOf": [{ "required": ["teamId", "toUserId"] }, { "required": ["teamId", "toUserIds"] }] });
    // A check-in gives at least one indicator.
    spec["components"]["schemas"]["TacticalStressIndicators"]["anyOf"] = json!([
        given("heartRate", "number"),
        given("sleepQuality", "number"),
        given("moodRating", "number"),
        { "required": ["recentIncidents"], "properties": { "recentIncidents": { "type": "array", "minItems": 1 } } },
    ]);
    // The custom writing mode (the default) says what it needs in `prompt` or `request`.
    let modes = &spec["components"]["schemas"]["WritingAssistMode"]["enum"];
    let other_modes: Vec<Value> = modes.as_array().expect("the modes are an enum").iter().filter(|m| *m != "custom").cloned().collect();
    spec["components"]["schemas"]["WritingAssistRequest"]["anyOf"] = json!([
        { "required": ["mode"], "properties": { "mode": { "enum": other_modes } } },
        { "required": ["prompt"], "properties": { "prompt": { "type": "string", "pattern": NOT_BLANK } } },
        { "required": ["request"], "properties": { "request": { "type": "string", "pattern": NOT_BLANK } } },
    ]);
    optional_fields_take_null(spec);
}

/// A schema that holds when `field` is present and not null (the services read a null field
/// as an absent one).
fn given(field: &str, ty: &str) -> Value {
    json!({ "required": [field], "properties": { field: { "type": ty } } })
}

/// poem-openapi reads `null` for an optional field as its absence; the request schemas say so.
fn optional_fields_take_null(spec: &mut Value) {
    let mut pending: Vec<String> = Vec::new();
    for operation in spec["paths"].as_object().into_iter().flat_map(|p| p.values()).flat_map(|i| i.as_object()).flat_map(|i| i.values()) {
        collect_refs(&operation["requestBody"], &mut pending);
    }
    let mut seen = std::collections::BTreeSet::new();
    while let Some(name) = pending.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        collect_refs(&spec["components"]["schemas"][&name], &mut pending);
    }
    for name in seen {
        let schema = &mut spec["components"]["schemas"][&name];
        let required: Vec<Value> = schema["required"].as_array().cloned().unwrap_or_default();
        for (field, property) in schema.get_mut("properties").and_then(Value::as_object_mut).into_iter().flatten() {
            // A field with a default (a number, a flag) refuses null; the others read it as absent.
            if required.contains(&Value::from(field.as_str())) || property.get("default").is_some() {
                continue;
            }
            // OpenAPI 3.0 ignores siblings of a `$ref`; an enum admits null only when it lists it.
            if let Some(r) = property.get("$ref").cloned() {
                *property = json!({ "allOf": [{ "$ref": r }] });
            }
            property["nullable"] = true.into();
            if let Some(values) = property.get_mut("enum").and_then(Value::as_array_mut) {
                values.push(Value::Null);
            }
        }
    }
}

fn collect_refs(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("$ref")
                && let Some(name) = r.strip_prefix("#/components/schemas/")
            {
                into.push(name.to_owned());
            }
            o.values().for_each(|v| collect_refs(v, into));
        }
        Value::Array(a) => a.iter().for_each(|v| collect_refs(v, into)),
        _ => {}
    }
}

fn describe(at: &At) -> String {
    match at {
        At::Property(schema, field) => format!("{schema}.{field}"),
        At::Parameter(path, method, name) => format!("{method} {path} {name}"),
        At::Form(path, method, field) => format!("{method} {path} form field {field}"),
    }
}
