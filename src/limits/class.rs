//! Which rate budget a request draws from.

use poem::http::Method;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RouteClass {
    General,
    Login,
    Generation,
}

impl RouteClass {
    pub fn as_str(self) -> &'static str {
        match self {
            RouteClass::General => "general",
            RouteClass::Login => "login",
            RouteClass::Generation => "generation",
        }
    }
}

/// REST routes (POST, path segments; `*` matches one segment) outside the general budget.
pub const REST_ROUTES: [(&str, RouteClass); 10] = [
    ("/api/auth/login", RouteClass::Login),
    ("/api/auth/register", RouteClass::Login),
    ("/api/music/generate", RouteClass::Generation),
    ("/api/music/project/*/mix", RouteClass::Generation),
    ("/api/premium/image/generate", RouteClass::Generation),
    ("/api/media/nft/generate", RouteClass::Generation),
    ("/api/ai/chat/send", RouteClass::Generation),
    ("/api/writers/ai/assist", RouteClass::Generation),
    ("/api/writers/assist", RouteClass::Generation),
    ("/api/tactical/analysis/sr", RouteClass::Generation),
];

/// tRPC procedures outside the general budget; each call of a batch is charged alone.
pub const TRPC_PROCEDURES: [(&str, RouteClass); 9] = [
    ("auth.login", RouteClass::Login),
    ("auth.register", RouteClass::Login),
    ("r3al.auth.login", RouteClass::Login),
    ("r3al.auth.register", RouteClass::Login),
    ("r3al.aiChat.sendMessage", RouteClass::Generation),
    ("r3al.studio.generateMusic", RouteClass::Generation),
    ("r3al.premium.generateImage", RouteClass::Generation),
    ("r3al.writersGuild.getAssistance", RouteClass::Generation),
    ("r3al.tactical.getOptimaSRAnalysis", RouteClass::Generation),
];

pub const TRPC_PREFIX: &str = "/api/trpc/";

fn matches(pattern: &str, path: &str) -> bool {
    let (mut p, mut s) = (pattern.split('/'), path.trim_end_matches('/').split('/'));
    loop {
        match (p.next(), s.next()) {
            (None, None) => return true,
            (Some("*"), Some(seg)) if !seg.is_empty() => {}
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

/// The class of one tRPC procedure call.
pub fn procedure_class(name: &str) -> RouteClass {
    TRPC_PROCEDURES.iter().find(|(n, _)| *n == name).map_or(RouteClass::General, |(_, c)| *c)
}

/// The class of a REST request.
pub fn classify(method: &Method, path: &str) -> RouteClass {
    if method != Method::POST {
        return RouteClass::General;
    }
    REST_ROUTES.iter().find(|(pattern, _)| matches(pattern, path)).map_or(RouteClass::General, |(_, c)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_classified() {
        assert_eq!(classify(&Method::POST, "/api/auth/login"), RouteClass::Login);
        assert_eq!(classify(&Method::POST, "/api/music/project/p1/mix"), RouteClass::Generation);
        assert_eq!(classify(&Method::POST, "/api/music/project//mix"), RouteClass::General);
        assert_eq!(classify(&Method::GET, "/api/music/generate"), RouteClass::General);
        assert_eq!(classify(&Method::GET, "/api/tactical/analysis/sr"), RouteClass::General);
        assert_eq!(classify(&Method::POST, "/api/tactical/analysis/sr/"), RouteClass::Generation);
        assert_eq!(classify(&Method::POST, "/api/music/project"), RouteClass::General);
    }

    #[test]
    fn procedures_are_classified() {
        assert_eq!(procedure_class("r3al.auth.me"), RouteClass::General);
        assert_eq!(procedure_class("r3al.auth.login"), RouteClass::Login);
        assert_eq!(procedure_class("r3al.studio.generateMusic"), RouteClass::Generation);
        assert_eq!(procedure_class("no.such.procedure"), RouteClass::General);
    }
}
