//! Cron expressions of `[backup] schedule` (UTC), checked when the configuration loads.

use croner::Cron;

/// Five fields as in crontab, or six with seconds first.
pub fn parse(expression: &str) -> Result<Cron, String> {
    expression.parse::<Cron>().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crontab_expressions_parse_with_or_without_seconds() {
        for ok in ["0 3 * * *", "*/15 * * * *", "0 0 * * SUN", "*/2 * * * * *"] {
            assert!(parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "every day", "61 * * * *", "* * *"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
