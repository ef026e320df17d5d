//! The `data` of each event in a `text/event-stream` body, as its bytes arrive in pieces of any
//! size: what a streaming provider answers. Comments, `event:`, `id:` and `retry:` lines are
//! not needed by any provider and are skipped.

/// Longest line, and longest event, kept while waiting for its end: a provider's chunk is a few
/// hundred bytes.
const MAX_LINE: usize = 1 << 20;

#[derive(Default)]
pub struct SseData {
    /// The start of a line whose end has not arrived.
    partial: Vec<u8>,
    /// The data lines of the event being read, joined by newlines.
    data: Option<String>,
    /// How much of `partial` is known to hold no newline.
    scanned: usize,
}

impl SseData {
    /// Reads `bytes`; the data of every event they complete, in order. An error when a line is
    /// longer than [`MAX_LINE`] or not UTF-8.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<String>, String> {
        self.partial.extend_from_slice(bytes);
        let mut events = Vec::new();
        let mut start = 0;
        // Only what arrived since the last look can hold a newline.
        let mut from = self.scanned;
        while let Some(end) = self.partial[from..].iter().position(|b| *b == b'\n').map(|at| from + at - start) {
            let line = &self.partial[start..start + end];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let line = std::str::from_utf8(line).map_err(|_| "sent a line that is not UTF-8".to_owned())?;
            if line.is_empty() {
                events.extend(self.data.take());
            } else if let Some(value) = line.strip_prefix("data:").or((line == "data").then_some("")) {
                let value = value.strip_prefix(' ').unwrap_or(value);
                match &mut self.data {
                    Some(data) => {
                        data.push('\n');
                        data.push_str(value);
                    }
                    None => self.data = Some(value.to_owned()),
                }
                if self.data.as_ref().is_some_and(|d| d.len() > MAX_LINE) {
                    return Err(format!("sent an event longer than {MAX_LINE} bytes"));
                }
            }
            start += end + 1;
            from = start;
        }
        self.partial.drain(..start);
        self.scanned = self.partial.len();
        if self.partial.len() > MAX_LINE {
            return Err(format!("sent a line longer than {MAX_LINE} bytes"));
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_anywhere_come_out_whole() {
        let body = ": comment\r\ndata: {\"a\":1}\r\n\r\nevent: x\ndata: one\ndata: two\n\ndata:[DONE]\n\n";
        for cut in 0..body.len() {
            let mut sse = SseData::default();
            let mut events = sse.push(&body.as_bytes()[..cut]).unwrap();
            events.extend(sse.push(&body.as_bytes()[cut..]).unwrap());
            assert_eq!(events, ["{\"a\":1}", "one\ntwo", "[DONE]"], "cut at {cut}");
        }
    }

    #[test]
    fn an_endless_event_is_refused() {
        let mut sse = SseData::default();
        let line = format!("data: {}\n", "x".repeat(64 * 1024));
        let refused = (0..20).find_map(|_| sse.push(line.as_bytes()).err());
        assert!(refused.is_some_and(|e| e.contains("event longer than")));
    }

    #[test]
    fn an_endless_line_is_refused() {
        let mut sse = SseData::default();
        let chunk = vec![b'x'; 64 * 1024];
        let refused = (0..20).find_map(|_| sse.push(&chunk).err());
        assert!(refused.is_some_and(|e| e.contains("longer than")));
    }
}
