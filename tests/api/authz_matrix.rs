//! Authorization matrix, generated from the server's own `/openapi.json`.
//!
//! Two users on the Unlimited tier, both verified Tactical HQ members (top secret, in different
//! departments), each own one real resource of every kind a route takes an id of. For every
//! documented operation the matrix builds a request from the spec (path, query and body, with
//! ids put where the spec names them) and sends it:
//!
//! - as B, once per id slot, with that one slot holding A's id and every other slot B's own:
//!   the answer must be 403 or 404 (never 2xx, never 5xx), and must not contain A's data;
//! - as B with B's own ids (a control: shows the request is well formed, so a 403/404 above is
//!   an authorization decision and not a validation error);
//! - without a token: 401 (403 is also accepted where the spec allows anonymous callers with a
//!   signed URL).
//!
//! Operations without an id slot act on the caller: B's answer must not contain A's data.
//! Every answer to B or to an anonymous caller is searched for A's marker string and A's ids
//! (except those the request itself sent). After the whole matrix, including B's deletions, A
//! reads back every resource and finds it unchanged.
//!
//! A route the generator does not understand (a path parameter, or an id-like field it cannot
//! map to a resource kind) fails the test, unless it is on `EXCLUDED`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Instant;

use optima::auth::Role;
use reqwest::multipart::{Form, Part};
use serde_json::{Map, Value, json};

use crate::blobs::png;
use crate::helpers::{TestApp, set_tier};

pub(crate) const A_USER: &str = "authz-alice-7c1e";
pub(crate) const B_USER: &str = "authz-bob-39d2";
pub(crate) const A_DEPT: &str = "Metro PD";
pub(crate) const B_DEPT: &str = "Harbor PD";
pub(crate) const BUCKET: &str = "r3al-user-media";

/// Operations left out of the matrix, and why. Exactly the operations the spec documents as
/// callable without a bearer token (no `security`, or only the empty requirement `{}`); the
/// test fails when one of these is missing from the spec, or when a public operation is not
/// listed here.
const EXCLUDED: &[(&str, &str, &str)] = &[
    ("GET", "/", "public index: name, version and links, no user data"),
    ("GET", "/health", "public health check"),
    ("GET", "/api/routes", "public: the names of the tRPC procedures, which the README lists too"),
    ("GET", "/probe/gateway", "public readiness probe: takes nothing, shows no user data; asks each provider at most once per ai.probe_cache_secs"),
    ("POST", "/api/auth/register", "public by design: creates an account, takes no id"),
    ("POST", "/api/auth/login", "public by design: trades credentials for a token"),
    ("POST", "/api/subscription/webhook/stripe", "called by Stripe, authenticated by its Stripe-Signature HMAC, not by a bearer"),
    ("GET", "/s/{share_id}", "the public page of a track its owner published on purpose"),
    ("GET", "/s/{share_id}/audio", "the public preview of a track its owner published on purpose"),
];

/// Of the requests carrying one of A's ids, at least this share must be refused with 403/404
/// (the rest with another 4xx, e.g. a 400 or 422 that came before the ownership check).
const MIN_PROVEN_SHARE: f64 = 0.9;

/// Operations whose control cannot succeed for B, a plain member, and why. A refusal of A's ids
/// proves something only when B's own request (the control) gets through: 2xx, or 409 when the
/// state B is already in conflicts (B registered, joined, upgraded or ended it during set-up,
/// which the server can only say after it has authorized and validated the request). Every other
/// operation whose control fails fails the test; these rows are counted apart, as unproven.
const ROLE_GATED: &[(&str, &str, &str)] = &[
    ("GET", "/api/tactical/audit", "admins only; tests/api/tactical.rs covers who may read the log"),
    ("GET", "/api/tactical/audit/verify", "admins only; tests/api/tactical.rs"),
    ("GET", "/api/tactical/registrations", "admins and verifiers only; tests/api/tactical.rs"),
    ("PUT", "/api/tactical/verify/{user_id}", "admins and verifiers only, never oneself; tests/api/tactical.rs"),
];

/// Deprecated spellings of a deletion, each with its canonical route. B owns one resource of each
/// kind, which the canonical route's control has deleted by the time its alias runs (aliases run
/// last): the alias's control must find it gone (404), and its rows count apart, as unproven.
const ALIASES: &[(&str, &str, &str)] = &[
    ("DELETE", "/api/media/photos/{user_id}", "DELETE /api/media/photos/{user_id}/{photo_id}"),
    ("DELETE", "/api/tactical/comm/{user_id}", "DELETE /api/tactical/comm/{user_id}/{comm_id}"),
];

// ---------------------------------------------------------------------------------------------
// Resource kinds and their owners

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    User,
    MusicProject,
    MusicVersion,
    MusicStem,
    ChatSession,
    WritersProject,
    WritersVersion,
    WritersSession,
    Nft,
    Photo,
    Generation,
    Comm,
    CommFile,
    Incident,
    Team,
    Document,
    ObjectPath,
    ObjectUrl,
}

/// A user and the ids of what they own.
pub(crate) struct Owner {
    pub(crate) user: String,
    pub(crate) token: String,
    marker: String,
    ids: BTreeMap<Kind, String>,
    /// More of the owner's ids (message ids, second versions…) that must not leak either.
    other_ids: Vec<String>,
}

impl Owner {
    pub(crate) fn id(&self, kind: Kind) -> String {
        match kind {
            Kind::User => self.user.clone(),
            Kind::ObjectUrl => format!("/cdn/{BUCKET}/{}", self.id(Kind::ObjectPath)),
            _ => self.ids.get(&kind).unwrap_or_else(|| panic!("{} has no {kind:?}", self.user)).clone(),
        }
    }

    /// Strings that identify this owner's data: the marker, the user id and every resource id.
    pub(crate) fn needles(&self) -> Vec<String> {
        let mut out = vec![self.marker.clone(), self.user.clone()];
        out.extend(self.ids.values().cloned());
        out.extend(self.other_ids.iter().cloned());
        out
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    A,
    B,
}

// ---------------------------------------------------------------------------------------------
// What a parameter or field names

#[derive(Clone, Debug)]
enum Meaning {
    /// The id of a resource (or user) of this kind.
    Id(Kind),
    /// Not an id; always this value.
    Fixed(Value),
    /// Not an id.
    Plain,
}

fn looks_like_id(name: &str) -> bool {
    name == "id" || name.ends_with("Id") || name.ends_with("Ids") || name.ends_with("_id") || name == "path" || name == "url"
}

/// What `name` (a parameter or a body field of an operation in `area`) holds. The
/// description wins where the spec says it explicitly ("The photo's id (the path is shared
/// …)"). An id-like name the matrix does not know fails the test: teach it here.
fn meaning(op: &str, area: &str, name: &str, description: &str) -> Meaning {
    if let Some(rest) = description.strip_prefix("The ")
        && let Some((noun, tail)) = rest.split_once("'s id")
        && !tail.is_empty()
    {
        return match noun {
            "photo" => Meaning::Id(Kind::Photo),
            "comm" => Meaning::Id(Kind::Comm),
            _ => panic!("{op}: `{name}` is described as the id of a {noun}, which the matrix does not know"),
        };
    }
    let kind = match (area, name) {
        (_, "user_id" | "userId" | "fromUserId" | "actor") => Kind::User,
        // Recipients of a comm: addressing someone is not acting on their data (and
        // cross-department delivery has its own tests in tactical.rs).
        ("tactical", "toUserId" | "toUserIds") => return Meaning::Plain,
        // An optimistic-concurrency token for the caller's own project, not a resource to own.
        ("writers", "baseVersionId") => return Meaning::Plain,
        // A position in the caller's own stream of events, not a resource.
        ("events", "lastEventId" | "Last-Event-ID") => return Meaning::Plain,
        ("events", "topics") => return Meaning::Fixed(json!("comms,incidents")),
        ("music", "project_id" | "projectId") => Kind::MusicProject,
        ("music", "version_id") => Kind::MusicVersion,
        ("music", "stemId") => Kind::MusicStem,
        ("ai", "session_id" | "sessionId") => Kind::ChatSession,
        ("writers", "project_id" | "projectId") => Kind::WritersProject,
        ("writers", "version_id" | "from" | "to") => Kind::WritersVersion,
        ("writers", "session_id") => Kind::WritersSession,
        ("media", "nft_id") => Kind::Nft,
        ("media", "photo_id") => Kind::Photo,
        ("premium", "generation_id") => Kind::Generation,
        ("tactical", "comm_id") => Kind::Comm,
        ("tactical", "file_id") => Kind::CommFile,
        ("tactical", "incident_id" | "relatedIncidentId") => Kind::Incident,
        ("tactical", "team_id" | "teamId") => Kind::Team,
        ("tactical", "document_id") => Kind::Document,
        ("storage" | "cdn", "path") => Kind::ObjectPath,
        ("storage", "url") => Kind::ObjectUrl,
        ("storage" | "cdn", "bucket") => return Meaning::Fixed(json!(BUCKET)),
        ("subscription", "feature") => return Meaning::Fixed(json!("ai_chat")),
        // The speaker of a message of `POST /v1/chat`'s conversation.
        ("v1", "role") => return Meaning::Fixed(json!("user")),
        _ if looks_like_id(name) => panic!("{op}: `{name}` looks like an id the matrix does not know; map it in `meaning`"),
        _ => return Meaning::Plain,
    };
    Meaning::Id(kind)
}

/// Values for plain fields where the type alone does not make a useful request.
fn fill(name: &str) -> Option<Value> {
    Some(match name {
        "message" => json!("hello from the authorization matrix"),
        "content" => json!("authorization matrix text"),
        "prompt" => json!("a calm piano"),
        "platform" => json!("facebook"),
        "title" => json!("authorization matrix"),
        "teamName" => json!("matrix team"),
        // Keeps generation cheap.
        "duration" => json!(10),
        // B's current tier: B's own control must not downgrade B half-way through the matrix.
        "newTier" => json!("unlimited"),
        "format" => json!("txt"),
        // A check-in needs at least one indicator.
        "moodRating" => json!(7),
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// The spec

struct Spec(Value);

impl Spec {
    /// Follows `$ref` and merges `allOf`.
    fn resolve(&self, schema: &Value) -> Value {
        if let Some(r) = schema["$ref"].as_str() {
            let name = r.rsplit('/').next().unwrap();
            let target = &self.0["components"]["schemas"][name];
            assert!(!target.is_null(), "unresolved {r}");
            return self.resolve(target);
        }
        if let Some(parts) = schema["allOf"].as_array() {
            let mut out = Map::new();
            for part in parts {
                if let Value::Object(m) = self.resolve(part) {
                    out.extend(m);
                }
            }
            if let Value::Object(m) = schema {
                for (k, v) in m {
                    if k != "allOf" {
                        out.insert(k.clone(), v.clone());
                    }
                }
            }
            return Value::Object(out);
        }
        schema.clone()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Security {
    /// No token needed (or only the empty requirement `{}`).
    Public,
    /// A bearer, or (`{}` beside it) a signed URL instead.
    Optional,
    Bearer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Path,
    Query,
    Header,
}

struct Param {
    name: String,
    place: Place,
    required: bool,
    schema: Value,
    description: String,
}

enum Body {
    None,
    Json(Value),
    Multipart(Value),
    Bytes,
}

struct Op {
    method: String,
    path: String,
    area: String,
    security: Security,
    params: Vec<Param>,
    body: Body,
}

impl Op {
    fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

fn operations(spec: &Spec) -> Vec<Op> {
    let mut out = Vec::new();
    for (path, item) in spec.0["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().unwrap() {
            if !["get", "put", "post", "delete", "patch", "head"].contains(&method.as_str()) {
                continue;
            }
            let label = format!("{} {path}", method.to_uppercase());
            let security = match op.get("security").and_then(Value::as_array) {
                None => Security::Public,
                Some(reqs) => {
                    let anonymous = reqs.iter().any(|r| r.as_object().is_some_and(|m| m.is_empty()));
                    let bearer = reqs.iter().any(|r| r.get("BearerAuth").is_some());
                    match (anonymous, bearer) {
                        (_, false) => Security::Public,
                        (true, true) => Security::Optional,
                        (false, true) => Security::Bearer,
                    }
                }
            };
            let params = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| Param {
                            name: p["name"].as_str().unwrap().to_owned(),
                            place: match p["in"].as_str().unwrap() {
                                "path" => Place::Path,
                                "query" => Place::Query,
                                "header" => Place::Header,
                                other => panic!("{label}: a parameter in `{other}`"),
                            },
                            required: p["required"].as_bool().unwrap_or(false),
                            schema: spec.resolve(&p["schema"]),
                            description: p["description"].as_str().unwrap_or("").to_owned(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let content = &op["requestBody"]["content"];
            let body = match content.as_object() {
                None => Body::None,
                Some(c) => {
                    let json = c.iter().find(|(k, _)| k.starts_with("application/json"));
                    let form = c.iter().find(|(k, _)| k.starts_with("multipart/form-data"));
                    let bytes = c.iter().find(|(k, _)| k.starts_with("application/octet-stream"));
                    match (json, form, bytes) {
                        (Some((_, j)), _, _) => Body::Json(spec.resolve(&j["schema"])),
                        (None, Some((_, f)), _) => Body::Multipart(spec.resolve(&f["schema"])),
                        (None, None, Some(_)) => Body::Bytes,
                        _ => panic!("{label}: a request body the matrix cannot build: {content}"),
                    }
                }
            };
            let area = match path.split('/').nth(1) {
                Some("api") => path.split('/').nth(2).unwrap_or("").to_owned(),
                Some(first) => first.to_owned(),
                None => String::new(),
            };
            out.push(Op { method: method.to_uppercase(), path: path.clone(), area, security, params, body });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Building requests

enum FormValue {
    Text(String),
    File(Vec<u8>, &'static str),
}

enum ReqBody {
    None,
    Json(Value),
    Form(Vec<(String, FormValue)>),
    Bytes(Vec<u8>),
}

struct Req {
    method: reqwest::Method,
    path: String,
    query: Vec<(String, String)>,
    body: ReqBody,
}

impl Req {
    /// Everything the caller sent, to tell what an answer may legitimately echo.
    fn sent_text(&self) -> String {
        let mut s = self.path.clone();
        for (k, v) in &self.query {
            let _ = write!(s, " {k}={v}");
        }
        match &self.body {
            ReqBody::None | ReqBody::Bytes(_) => {}
            ReqBody::Json(v) => s.push_str(&v.to_string()),
            ReqBody::Form(parts) => {
                for (k, v) in parts {
                    if let FormValue::Text(t) = v {
                        let _ = write!(s, " {k}={t}");
                    }
                }
            }
        }
        s
    }

    fn describe(&self) -> String {
        let mut s = format!("{} {}", self.method, self.path);
        if !self.query.is_empty() {
            let q: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = write!(s, "?{}", q.join("&"));
        }
        match &self.body {
            ReqBody::None => {}
            ReqBody::Json(v) => {
                let _ = write!(s, " {v}");
            }
            ReqBody::Bytes(b) => {
                let _ = write!(s, " <{} bytes>", b.len());
            }
            ReqBody::Form(parts) => {
                let fields: Vec<String> = parts
                    .iter()
                    .map(|(k, v)| match v {
                        FormValue::Text(t) => format!("{k}={t}"),
                        FormValue::File(b, name) => format!("{k}=<{name}, {} bytes>", b.len()),
                    })
                    .collect();
                let _ = write!(s, " multipart[{}]", fields.join(", "));
            }
        }
        s
    }
}

/// Builds one request for `op`; `pick` says whose id goes into each slot (by its key).
struct Builder<'a> {
    spec: &'a Spec,
    op: &'a Op,
    a: &'a Owner,
    b: &'a Owner,
    pick: &'a dyn Fn(&str) -> Who,
    /// Every id slot met while building: key and kind.
    slots: Vec<(String, Kind)>,
}

impl Builder<'_> {
    fn id(&mut self, key: &str, kind: Kind) -> String {
        self.slots.push((key.to_owned(), kind));
        match (self.pick)(key) {
            Who::A => self.a.id(kind),
            Who::B => self.b.id(kind),
        }
    }

    fn meaning(&self, name: &str, description: &str) -> Meaning {
        meaning(&self.op.label(), &self.op.area, name, description)
    }

    fn build(&mut self) -> Req {
        let op = self.op;
        let mut path = op.path.clone();
        let mut query = Vec::new();
        for p in &op.params {
            let key = format!("{}:{}", if p.place == Place::Path { "path" } else { "query" }, p.name);
            let m = self.meaning(&p.name, &p.description);
            match p.place {
                Place::Path => {
                    let v = match m {
                        Meaning::Id(kind) => self.id(&key, kind),
                        Meaning::Fixed(v) => v.as_str().unwrap().to_owned(),
                        Meaning::Plain => panic!(
                            "{}: path parameter `{}` is neither an id the matrix knows nor a fixed value; map it in `meaning`",
                            op.label(),
                            p.name
                        ),
                    };
                    path = path.replace(&format!("{{{}}}", p.name), &v);
                }
                Place::Query => {
                    let v = match m {
                        Meaning::Id(kind) => Some(self.id(&key, kind)),
                        Meaning::Fixed(v) => Some(v.as_str().unwrap().to_owned()),
                        Meaning::Plain if p.required => Some(scalar_text(&self.plain(&p.schema, &p.name, &p.description))),
                        Meaning::Plain => None,
                    };
                    if let Some(v) = v {
                        query.push((p.name.clone(), v));
                    }
                }
                Place::Header => assert!(!p.required, "{}: a required header parameter `{}` the matrix cannot fill", op.label(), p.name),
            }
        }
        assert!(!path.contains('{'), "{}: a path parameter was not filled: {path}", op.label());
        let body = match &op.body {
            Body::None => ReqBody::None,
            Body::Bytes => ReqBody::Bytes(b"written by the authorization matrix".to_vec()),
            Body::Json(schema) => ReqBody::Json(self.value(schema, "", "body", true)),
            Body::Multipart(schema) => {
                let mut parts = Vec::new();
                let required = required_names(schema);
                for (name, prop) in properties(schema) {
                    let prop = self.spec.resolve(&prop);
                    if !required.contains(&name) && !self.wanted(&prop, &name) {
                        continue;
                    }
                    let binary = prop["format"] == "binary" || prop["items"]["format"] == "binary";
                    if binary {
                        parts.push((name.clone(), file_for(prop["description"].as_str().unwrap_or(""))));
                    } else {
                        let v = self.value(&prop, &name, &format!("form:{name}"), true);
                        parts.push((name.clone(), FormValue::Text(scalar_text(&v))));
                    }
                }
                ReqBody::Form(parts)
            }
        };
        let method = reqwest::Method::from_bytes(op.method.as_bytes()).unwrap();
        Req { method, path, query, body }
    }

    /// An optional field is sent when it carries an id (so it is tested) or has a fill value.
    fn wanted(&self, schema: &Value, name: &str) -> bool {
        fill(name).is_some() || self.mentions_id(schema, name)
    }

    fn mentions_id(&self, schema: &Value, name: &str) -> bool {
        let schema = self.spec.resolve(schema);
        if matches!(self.meaning(name, schema["description"].as_str().unwrap_or("")), Meaning::Id(_)) {
            return true;
        }
        if schema["type"] == "array" {
            return self.mentions_id(&schema["items"], name);
        }
        properties(&schema).iter().any(|(n, p)| self.mentions_id(p, n))
    }

    /// A value for the field `name` with `schema`; `key` names its place for the slot list.
    fn value(&mut self, schema: &Value, name: &str, key: &str, _required: bool) -> Value {
        let schema = self.spec.resolve(schema);
        let description = schema["description"].as_str().unwrap_or("").to_owned();
        let is_array = schema["type"] == "array";
        if !name.is_empty() {
            match self.meaning(name, &description) {
                Meaning::Id(kind) => {
                    // An array of ids (e.g. `toUserIds`) gets one; an array of objects recurses.
                    if !is_array {
                        return json!(self.id(key, kind));
                    }
                    if self.spec.resolve(&schema["items"])["type"] != "object" {
                        return json!([self.id(&format!("{key}[0]"), kind)]);
                    }
                }
                Meaning::Fixed(v) => return v,
                Meaning::Plain => {}
            }
        }
        if is_array {
            return json!([self.value(&schema["items"], name, &format!("{key}[0]"), true)]);
        }
        let props = properties(&schema);
        let free_form = schema.as_object().is_some_and(|m| !m.contains_key("type") && !m.contains_key("enum"));
        if schema["type"] == "object" || !props.is_empty() || free_form {
            if props.is_empty() {
                // A free-form JSON document (e.g. writers' notes).
                return json!({"note": "written by the authorization matrix"});
            }
            let required = required_names(&schema);
            let mut out = Map::new();
            for (prop, ps) in props {
                if required.contains(&prop) || self.wanted(&ps, &prop) {
                    let v = self.value(&ps, &prop, &format!("{key}.{prop}"), required.contains(&prop));
                    out.insert(prop, v);
                }
            }
            return Value::Object(out);
        }
        self.plain(&schema, name, &description)
    }

    /// A value for a field that is not an id: a fill value, the first enum value, the first
    /// word of a described list ("low, medium, high"), or something of the right type.
    fn plain(&self, schema: &Value, name: &str, description: &str) -> Value {
        if let Some(v) = fill(name) {
            return v;
        }
        let schema = self.spec.resolve(schema);
        if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
            return first.clone();
        }
        match schema["type"].as_str() {
            Some("integer") => json!(schema["minimum"].as_f64().or(schema["default"].as_f64()).unwrap_or(1.0) as u64),
            Some("number") => json!(schema["minimum"].as_f64().unwrap_or(1.0)),
            Some("boolean") => json!(false),
            _ => {
                let listed = description.split([',', ' ', '.', '(']).next().unwrap_or("");
                let is_list = (description.contains(", ") || description.contains(" or "))
                    && !listed.is_empty()
                    && listed.chars().all(|c| c.is_ascii_lowercase() || c == '_');
                if is_list {
                    return json!(listed);
                }
                let mut s = "authorization matrix".to_owned();
                let min = schema["minLength"].as_u64().unwrap_or(0) as usize;
                while s.len() < min {
                    s.push('x');
                }
                json!(s)
            }
        }
    }
}

fn properties(schema: &Value) -> Vec<(String, Value)> {
    schema["properties"].as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default()
}

fn required_names(schema: &Value) -> BTreeSet<String> {
    schema["required"].as_array().map(|r| r.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// File bytes of the kind the field's description asks for.
fn file_for(description: &str) -> FormValue {
    if description.contains("PNG") {
        FormValue::File(png(48, 32), "matrix.png")
    } else if description.contains("WAV") {
        FormValue::File(wav(0.5), "matrix.wav")
    } else {
        FormValue::File(b"written by the authorization matrix".to_vec(), "matrix.bin")
    }
}

/// A mono 16-bit 8 kHz WAV of a 220 Hz tone.
fn wav(secs: f32) -> Vec<u8> {
    let rate = 8_000u32;
    let samples: Vec<i16> = (0..(secs * rate as f32) as u32)
        .map(|i| ((i as f32 * 220.0 * std::f32::consts::TAU / rate as f32).sin() * 8_000.0) as i16)
        .collect();
    let data_len = samples.len() as u32 * 2;
    let mut out = Vec::new();
    out.extend(b"RIFF");
    out.extend((36 + data_len).to_le_bytes());
    out.extend(b"WAVEfmt ");
    out.extend(16u32.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(rate.to_le_bytes());
    out.extend((rate * 2).to_le_bytes());
    out.extend(2u16.to_le_bytes());
    out.extend(16u16.to_le_bytes());
    out.extend(b"data");
    out.extend(data_len.to_le_bytes());
    for s in samples {
        out.extend(s.to_le_bytes());
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Sending

struct Answer {
    status: u16,
    /// Headers and body, as text, for the leak search.
    text: String,
}

impl Answer {
    fn excerpt(&self) -> String {
        let body = self.text.split_once("\n\n").map_or(self.text.as_str(), |(_, b)| b);
        body.chars().take(300).collect()
    }
}

async fn send(app: &TestApp, req: &Req, token: Option<&str>) -> Answer {
    let mut url = reqwest::Url::parse(&app.url(&req.path)).unwrap();
    if !req.query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in &req.query {
            pairs.append_pair(k, v);
        }
    }
    let mut rb = app.client.request(req.method.clone(), url);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    rb = match &req.body {
        ReqBody::None => rb,
        ReqBody::Json(v) => rb.json(v),
        ReqBody::Bytes(b) => rb.header("content-type", "application/octet-stream").body(b.clone()),
        ReqBody::Form(parts) => {
            let mut form = Form::new();
            for (name, v) in parts {
                form = match v {
                    FormValue::Text(t) => form.text(name.clone(), t.clone()),
                    FormValue::File(bytes, file_name) => form.part(name.clone(), Part::bytes(bytes.clone()).file_name(*file_name)),
                };
            }
            rb.multipart(form)
        }
    };
    let resp = rb.send().await.unwrap_or_else(|e| panic!("{}: {e}", req.describe()));
    let status = resp.status().as_u16();
    let mut text = String::new();
    for (k, v) in resp.headers() {
        let _ = writeln!(text, "{k}: {}", String::from_utf8_lossy(v.as_bytes()));
    }
    text.push('\n');
    if text.contains("content-type: text/event-stream") {
        // A stream stays open: what it sends in its first moments is its answer.
        let mut body = resp.bytes_stream();
        while let Ok(Some(chunk)) = tokio::time::timeout(std::time::Duration::from_millis(300), futures_util::StreamExt::next(&mut body)).await {
            text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        }
        return Answer { status, text };
    }
    text.push_str(&String::from_utf8_lossy(&resp.bytes().await.unwrap()));
    Answer { status, text }
}

/// A's strings found in `answer` that the request did not send itself.
fn leaks(a: &Owner, req: &Req, answer: &Answer) -> Vec<String> {
    let sent = req.sent_text();
    a.needles().into_iter().filter(|n| !sent.contains(n.as_str()) && answer.text.contains(n.as_str())).collect()
}

// ---------------------------------------------------------------------------------------------
// Setting up two users with one of everything

async fn must(resp: reqwest::Response, status: u16, what: &str) -> Value {
    let got = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    assert_eq!(got, status, "setup: {what}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn text_of(v: &Value, field: &str, what: &str) -> String {
    v[field].as_str().unwrap_or_else(|| panic!("setup: {what} has no `{field}`: {v}")).to_owned()
}

async fn multipart(app: &TestApp, path: &str, token: &str, form: Form) -> reqwest::Response {
    app.client.post(app.url(path)).bearer_auth(token).multipart(form).send().await.expect("request")
}

pub(crate) async fn setup(app: &TestApp, admin: &str, user: &str, dept: &str) -> Owner {
    let marker = format!("AUTHZ-SECRET-{}", uuid::Uuid::new_v4().simple());
    let m = marker.as_str();
    let token = app.token(user, Role::User);
    let t = token.as_str();
    let mut ids = BTreeMap::new();
    let mut other_ids = Vec::new();

    set_tier(app, user, "unlimited").await;

    // Tactical HQ: a verified top-secret member with a document, a team, an incident, a sealed
    // team comm with an attachment, a check-in and an operational status.
    let form = Form::new()
        .text("userId", user.to_owned())
        .text("serviceBranch", "police")
        .text("department", dept.to_owned())
        .text("rank", format!("Sergeant {m}"))
        .text("badgeNumber", format!("B-{m}"))
        .part("documents", Part::bytes(format!("orders for {m}").into_bytes()).file_name("orders.txt"));
    let profile = must(multipart(app, "/api/tactical/register", t, form).await, 201, "tactical register").await;
    ids.insert(Kind::Document, text_of(&profile["documents"][0], "documentId", "the document"));
    if let Some(id) = profile["tacticalUserId"].as_str() {
        other_ids.push(id.to_owned());
    }
    let verified = json!({"status": "verified", "clearanceLevel": "top_secret"});
    must(app.put_json(&format!("/api/tactical/verify/{user}"), Some(admin), &verified).await, 200, "verify").await;
    let team = must(app.post_json("/api/tactical/teams", Some(t), &json!({"teamName": format!("team {m}"), "teamType": "patrol"})).await, 201, "team").await;
    ids.insert(Kind::Team, text_of(&team, "teamId", "team"));
    let incident = json!({"title": format!("incident {m}"), "description": format!("details {m}"), "severity": "high", "location": "Pier 9"});
    let incident = must(app.post_json("/api/tactical/incident/report", Some(t), &incident).await, 201, "incident").await;
    ids.insert(Kind::Incident, text_of(&incident, "incidentId", "incident"));
    let comm = json!({"fromUserId": user, "teamId": ids[&Kind::Team], "content": format!("comm {m}"), "classification": "secret", "relatedIncidentId": ids[&Kind::Incident]});
    let comm = must(app.post_json("/api/tactical/comm/secure", Some(t), &comm).await, 201, "comm").await;
    let comm_id = text_of(&comm, "commId", "comm");
    let form = Form::new().part("file", Part::bytes(format!("attachment {m}").into_bytes()).file_name("plan.txt"));
    let file = must(multipart(app, &format!("/api/tactical/comm/{comm_id}/attachments"), t, form).await, 201, "attachment").await;
    ids.insert(Kind::CommFile, text_of(&file, "fileId", "attachment"));
    ids.insert(Kind::Comm, comm_id);
    let check_in = json!({"userId": user, "sessionType": "routine_check",
        "stressIndicators": {"heartRate": 80, "sleepQuality": 6, "moodRating": 7, "recentIncidents": [format!("checkin {m}")]}});
    let check_in = must(app.post_json("/api/tactical/analysis/sr", Some(t), &check_in).await, 201, "check-in").await;
    other_ids.push(text_of(&check_in["session"], "sessionId", "check-in"));
    must(app.put_json(&format!("/api/tactical/status/{user}"), Some(t), &json!({"operationalStatus": "on_duty"})).await, 200, "status").await;

    // Music: a project with an uploaded stem mixed into a version.
    let project = must(app.post_json("/api/music/project/create", Some(t), &json!({"userId": user, "title": format!("song {m}"), "genre": "ambient"})).await, 201, "music project").await;
    let pid = text_of(&project, "projectId", "music project");
    let form = Form::new().text("projectId", pid.clone()).text("instrument", "bass").part("file", Part::bytes(wav(1.0)).file_name("bass.wav"));
    let stem = must(multipart(app, "/api/music/stem/upload", t, form).await, 201, "stem").await;
    ids.insert(Kind::MusicStem, text_of(&stem, "stemId", "stem"));
    let mix = must(app.post_json(&format!("/api/music/project/{pid}/mix"), Some(t), &json!({})).await, 200, "mix").await;
    ids.insert(Kind::MusicVersion, text_of(&mix, "versionId", "mix"));
    ids.insert(Kind::MusicProject, pid);

    // AI chat.
    let reply = must(app.post_json("/api/ai/chat/send", Some(t), &json!({"userId": user, "message": format!("chat {m}")})).await, 200, "chat").await;
    ids.insert(Kind::ChatSession, text_of(&reply, "sessionId", "chat"));
    other_ids.push(text_of(&reply, "messageId", "chat"));
    other_ids.push(text_of(&reply, "userMessageId", "chat"));

    // Writers Guild: member, project with two saved versions, notes, an open session.
    must(app.post_json("/api/writers/member/register", Some(t), &json!({"userId": user, "penName": format!("pen {m}"), "bio": format!("bio {m}")})).await, 201, "guild member").await;
    let project = json!({"userId": user, "title": format!("novel {m}"), "contentType": "novel", "description": format!("about {m}")});
    let project = must(app.post_json("/api/writers/project/create", Some(t), &project).await, 201, "writers project").await;
    let wid = text_of(&project, "projectId", "writers project");
    let saved = must(app.put_json(&format!("/api/writers/project/{wid}"), Some(t), &json!({"content": format!("Chapter 1\n\nFirst draft {m}.")})).await, 200, "save").await;
    ids.insert(Kind::WritersVersion, text_of(&saved, "versionId", "save"));
    let saved = must(app.put_json(&format!("/api/writers/project/{wid}"), Some(t), &json!({"content": format!("Chapter 1\n\nSecond draft {m}.")})).await, 200, "save").await;
    other_ids.push(text_of(&saved, "versionId", "save"));
    must(app.put_json(&format!("/api/writers/project/{wid}/notes"), Some(t), &json!({"plot": format!("notes {m}")})).await, 200, "notes").await;
    let session = must(app.post_json("/api/writers/session/start", Some(t), &json!({"userId": user, "projectId": wid})).await, 200, "writing session").await;
    ids.insert(Kind::WritersSession, text_of(&session, "sessionId", "writing session"));
    ids.insert(Kind::WritersProject, wid);

    // Premium image, profile media, NFT.
    let image = must(app.post_json("/api/premium/image/generate", Some(t), &json!({"userId": user, "prompt": format!("a lighthouse {m}")})).await, 201, "image").await;
    ids.insert(Kind::Generation, text_of(&image, "generationId", "image"));
    let form = Form::new().text("caption", format!("photo {m}")).part("file", Part::bytes(png(40, 30)).file_name("p.png"));
    let photo = must(multipart(app, "/api/media/photos", t, form).await, 201, "photo").await;
    ids.insert(Kind::Photo, text_of(&photo, "photoId", "photo"));
    must(multipart(app, "/api/media/avatar", t, Form::new().part("file", Part::bytes(png(64, 64)).file_name("a.png"))).await, 200, "avatar").await;
    let nft = json!({"userId": user, "colorScheme": "ocean", "style": "waves", "traits": [{"traitType": "Secret", "value": format!("nft {m}")}]});
    let nft = must(app.post_json("/api/media/nft/generate", Some(t), &nft).await, 201, "nft").await;
    ids.insert(Kind::Nft, text_of(&nft, "nftId", "nft"));

    // A stored object.
    let path = format!("users/{user}/authz/secret.txt");
    must(app.upload(t, "media", &path, format!("object {m}").into_bytes()).await, 201, "upload").await;
    ids.insert(Kind::ObjectPath, path);

    Owner { user: user.to_owned(), token, marker, ids, other_ids }
}

// ---------------------------------------------------------------------------------------------
// A's view of A's resources, before and after the matrix

/// URLs in answers are signed with an expiry: compare them without their query.
fn normalize(v: &mut Value) {
    match v {
        Value::String(s) => {
            if s.contains("signature=")
                && let Some(i) = s.find('?')
            {
                s.truncate(i);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize),
        Value::Object(m) => m.values_mut().for_each(normalize),
        _ => {}
    }
}

pub(crate) async fn snapshot(app: &TestApp, a: &Owner) -> BTreeMap<String, (u16, String)> {
    let u = &a.user;
    let id = |k| a.id(k);
    let reads = [
        format!("/api/music/project/{}", id(Kind::MusicProject)),
        format!("/api/music/project/{}/stems", id(Kind::MusicProject)),
        format!("/api/music/project/{}/versions", id(Kind::MusicProject)),
        format!("/api/music/user/{u}/projects"),
        format!("/api/ai/chat/history/{}", id(Kind::ChatSession)),
        format!("/api/ai/chat/sessions/{u}"),
        format!("/api/writers/member/{u}"),
        format!("/api/writers/project/{}", id(Kind::WritersProject)),
        format!("/api/writers/project/{}/content", id(Kind::WritersProject)),
        format!("/api/writers/project/{}/notes", id(Kind::WritersProject)),
        format!("/api/writers/project/{}/versions", id(Kind::WritersProject)),
        format!("/api/writers/user/{u}/projects"),
        format!("/api/premium/image/{}", id(Kind::Generation)),
        format!("/api/premium/image/history/{u}"),
        format!("/api/premium/usage/{u}"),
        format!("/api/subscription/tier/{u}"),
        format!("/api/media/photos/{u}"),
        format!("/api/media/nft/{}", id(Kind::Nft)),
        format!("/api/media/nft/user/{u}"),
        format!("/cdn/{BUCKET}/users/{u}/profile/avatar.jpg"),
        id(Kind::ObjectUrl),
        format!("/api/tactical/profile/{u}"),
        format!("/api/tactical/members/{u}/documents/{}", id(Kind::Document)),
        format!("/api/tactical/teams/{}", id(Kind::Team)),
        format!("/api/tactical/comm/{u}?limit=100"),
        format!("/api/tactical/comm/{}/attachments/{}", id(Kind::Comm), id(Kind::CommFile)),
        "/api/tactical/incidents".to_owned(),
        format!("/api/tactical/analysis/sr/checkins/{u}"),
    ];
    let mut out = BTreeMap::new();
    for path in reads {
        let resp = app.get(&path, Some(&a.token)).await;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap();
        let text = match serde_json::from_slice::<Value>(&bytes) {
            Ok(mut v) => {
                normalize(&mut v);
                serde_json::to_string_pretty(&v).unwrap()
            }
            Err(_) => String::from_utf8_lossy(&bytes).into_owned(),
        };
        out.insert(path, (status, text));
    }
    out
}

/// A's resources, read by A again, that differ from `before` (each of which A could read):
/// the path, and what it was and is now.
pub(crate) async fn changed_since(app: &TestApp, a: &Owner, before: &BTreeMap<String, (u16, String)>) -> Vec<(String, String)> {
    let after = snapshot(app, a).await;
    let mut changed = Vec::new();
    for (path, (status, text)) in before {
        assert_eq!(*status, 200, "A reads {path} before the matrix: {text}");
        let (after_status, after_text) = &after[path];
        if (status, text) != (after_status, after_text) {
            changed.push((path.clone(), format!("{status} {text}\n    now: {after_status} {after_text}")));
        }
    }
    changed
}

// ---------------------------------------------------------------------------------------------
// The matrix

#[derive(Default)]
struct Row {
    label: String,
    /// `(slot, status)` of each request carrying one of A's ids.
    foreign: Vec<(String, u16)>,
    /// B's answer with B's own ids (or, without id slots, B's only request).
    own: Option<u16>,
    /// That request and an excerpt of its answer.
    own_exchange: String,
    anonymous: u16,
}

struct Failure {
    label: String,
    slot: String,
    message: String,
}

#[tokio::test]
async fn another_users_ids_and_anonymous_callers_are_refused_everywhere() {
    let started = Instant::now();
    let app = TestApp::spawn().await;
    let admin = app.token("authz-admin", Role::Admin);
    let a = setup(&app, &admin, A_USER, A_DEPT).await;
    let b = setup(&app, &admin, B_USER, B_DEPT).await;
    let setup_secs = started.elapsed().as_secs_f64();

    let resp = app.get("/openapi.json", None).await;
    assert_eq!(resp.status(), 200);
    let spec = Spec(resp.json().await.unwrap());
    let ops = operations(&spec);
    assert!(ops.len() > 50, "the spec lists the API: {} operations", ops.len());

    // The allow-list: no stale entries, and exactly the public operations.
    let labels: BTreeSet<String> = ops.iter().map(Op::label).collect();
    let excluded: BTreeSet<String> = EXCLUDED.iter().map(|(m, p, _)| format!("{m} {p}")).collect();
    for e in &excluded {
        assert!(labels.contains(e), "EXCLUDED lists `{e}`, which the spec no longer has: remove it");
    }
    for op in &ops {
        let listed = excluded.contains(&op.label());
        match op.security {
            Security::Public => assert!(listed, "`{}` is public in the spec but not on EXCLUDED: is that on purpose?", op.label()),
            _ => assert!(!listed, "`{}` is on EXCLUDED but the spec says it needs a bearer: test it instead", op.label()),
        }
    }

    let before = snapshot(&app, &a).await;

    // Reads and writes first, deletions last (their aliases after them), so B's own resources
    // exist for every control.
    let aliases: BTreeMap<String, &str> = ALIASES.iter().map(|(m, p, canonical)| (format!("{m} {p}"), *canonical)).collect();
    let mut order: Vec<&Op> = ops.iter().filter(|op| !excluded.contains(&op.label())).collect();
    order.sort_by_key(|op| (op.method == "DELETE", aliases.contains_key(&op.label()), op.path.clone(), op.method.clone()));

    let mut rows = Vec::new();
    let mut failures: Vec<Failure> = Vec::new();
    let mut fail = |label: &str, slot: &str, message: String| failures.push(Failure { label: label.to_owned(), slot: slot.to_owned(), message });

    for op in &order {
        let label = op.label();
        // Discover the id slots (everything B's).
        let all_b = |_: &str| Who::B;
        let mut builder = Builder { spec: &spec, op, a: &a, b: &b, pick: &all_b, slots: Vec::new() };
        let own_req = builder.build();
        let slots = builder.slots;
        let mut row = Row { label: label.clone(), ..Row::default() };

        // Anonymous, with A's ids everywhere.
        let all_a = |_: &str| Who::A;
        let req = Builder { spec: &spec, op, a: &a, b: &b, pick: &all_a, slots: Vec::new() }.build();
        let answer = send(&app, &req, None).await;
        row.anonymous = answer.status;
        let expected: &[u16] = if op.security == Security::Optional { &[401, 403] } else { &[401] };
        if !expected.contains(&answer.status) {
            fail(&label, "anonymous", format!("{} without a token → {} (expected {expected:?}): {}", req.describe(), answer.status, answer.excerpt()));
        }
        let leaked = leaks(&a, &req, &answer);
        if !leaked.is_empty() {
            fail(&label, "anonymous", format!("{} without a token → {} contains A's {leaked:?}", req.describe(), answer.status));
        }

        // B, one of A's ids at a time.
        for (slot, kind) in &slots {
            let pick = |key: &str| if key == slot { Who::A } else { Who::B };
            let req = Builder { spec: &spec, op, a: &a, b: &b, pick: &pick, slots: Vec::new() }.build();
            let answer = send(&app, &req, Some(&b.token)).await;
            row.foreign.push((slot.clone(), answer.status));
            let what = format!("{} as B with A's {kind:?} in `{slot}` → {}: {}", req.describe(), answer.status, answer.excerpt());
            match answer.status {
                403 | 404 => {}
                200..=299 => fail(&label, slot, format!("ACCEPTED: {what}")),
                500..=599 => fail(&label, slot, format!("server error: {what}")),
                401 | 429 => fail(&label, slot, format!("unexpected status for a valid token: {what}")),
                _ => {}
            }
            let leaked = leaks(&a, &req, &answer);
            if !leaked.is_empty() {
                fail(&label, slot, format!("LEAK of A's {leaked:?}: {what}"));
            }
        }

        // B with B's own ids: the control (or, without id slots, B acting as itself).
        let answer = send(&app, &own_req, Some(&b.token)).await;
        row.own = Some(answer.status);
        row.own_exchange = format!("{} → {}", own_req.describe(), answer.excerpt());
        if answer.status >= 500 || answer.status == 401 || answer.status == 429 {
            fail(&label, "own", format!("{} as B with B's own ids → {}: {}", own_req.describe(), answer.status, answer.excerpt()));
        }
        let leaked = leaks(&a, &own_req, &answer);
        if !leaked.is_empty() {
            fail(&label, "own", format!("LEAK of A's {leaked:?}: {} as B → {}: {}", own_req.describe(), answer.status, answer.excerpt()));
        }
        rows.push(row);
    }

    // A's resources, read back by A, are as they were.
    for (path, change) in changed_since(&app, &a, &before).await {
        fail("A's resources", &path, format!("changed by B's requests: {change}"));
    }

    // The matrix. A row proves its refusals only when its control got through.
    let role_gated: BTreeMap<String, &str> = ROLE_GATED.iter().map(|(m, p, why)| (format!("{m} {p}"), *why)).collect();
    let mut table = String::new();
    let (mut foreign_total, mut proven) = (0usize, 0usize);
    let mut unproven = Vec::new();
    let mut gated = Vec::new();
    let mut own_ok = 0usize;
    let mut id_ops = 0usize;
    for row in &rows {
        let own = row.own.map_or("-".to_owned(), |s| s.to_string());
        let control_ok = row.own.is_some_and(|s| (200..300).contains(&s) || s == 409);
        if control_ok {
            own_ok += 1;
        } else if let Some(canonical) = aliases.get(&row.label)
            && row.own == Some(404)
        {
            gated.push(format!("{} (B-own=404: an alias of `{canonical}`, which deleted B's resource before it)", row.label));
        } else if let Some(why) = role_gated.get(&row.label) {
            gated.push(format!("{} (B-own={own}: {why})", row.label));
        } else {
            failures.push(Failure {
                label: row.label.clone(),
                slot: "own".into(),
                message: format!("the control failed, so the refusals of A's ids prove nothing: {}", row.own_exchange),
            });
        }
        let foreign = if row.foreign.is_empty() {
            "no id: acts on the caller".to_owned()
        } else {
            id_ops += 1;
            row.foreign.iter().map(|(slot, s)| format!("{slot}={s}")).collect::<Vec<_>>().join(" ")
        };
        for (slot, s) in &row.foreign {
            foreign_total += 1;
            if control_ok && (*s == 403 || *s == 404) {
                proven += 1;
            } else {
                unproven.push(format!("{} {slot}={s}", row.label));
            }
        }
        let _ = writeln!(table, "{:<66} anon={} B-own={own:<4} B-with-A's: {foreign}", row.label, row.anonymous);
    }
    for listed in role_gated.keys() {
        assert!(rows.iter().any(|r| &r.label == listed), "ROLE_GATED lists `{listed}`, which the matrix no longer checks");
    }
    for (alias, canonical) in &aliases {
        for listed in [alias.as_str(), canonical] {
            assert!(rows.iter().any(|r| r.label == listed), "ALIASES lists `{listed}`, which the matrix no longer checks");
        }
    }
    println!("{table}");
    println!(
        "authorization matrix: {} operations in the spec, {} excluded, {} checked ({id_ops} with ids, {} acting on the caller); \
         {foreign_total} requests with one of A's ids, {proven} refused with 403/404 where B's own control got through; \
         controls through for {own_ok}, gated (by role, or an alias) {}; setup {setup_secs:.1}s, total {:.1}s",
        ops.len(),
        excluded.len(),
        rows.len(),
        rows.len() - id_ops,
        gated.len(),
        started.elapsed().as_secs_f64()
    );
    if !unproven.is_empty() {
        println!("not proven (refused otherwise, or the control could not get through): {unproven:?}");
    }
    println!("gated rows: {gated:?}");

    let mut report = String::new();
    for f in &failures {
        let _ = writeln!(report, "- {} [{}]: {}", f.label, f.slot, f.message);
    }
    assert!(report.is_empty(), "authorization matrix failures:\n{report}");

    assert!(id_ops >= 60, "most operations take an id: {id_ops}");
    let share = proven as f64 / foreign_total as f64;
    assert!(
        share >= MIN_PROVEN_SHARE,
        "only {proven} of {foreign_total} requests with A's ids got past validation to a 403/404: {unproven:?}"
    );
}
