//! Server-sent events: network chunks in, complete `data` payloads out, however the
//! chunks split lines (streamed answers arrive in arbitrary pieces).

#[derive(Debug, Default)]
pub(crate) struct SseParser {
    /// Bytes of a line not yet terminated.
    pending: Vec<u8>,
    /// `data` lines of the event being read.
    data: Option<String>,
}

impl SseParser {
    /// Feeds a chunk; returns the data of every event it completed.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            // Splitting at '\n' never cuts a UTF-8 sequence.
            let line = String::from_utf8_lossy(&line[..end]);
            let line = line.strip_suffix('\r').unwrap_or(&line);
            self.line(line, &mut events);
        }
        events
    }

    /// The end of the stream: an event not closed by a blank line still counts.
    pub(crate) fn finish(&mut self) -> Vec<String> {
        let mut events = Vec::new();
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            let line = String::from_utf8_lossy(&rest);
            let line = line.strip_suffix('\r').unwrap_or(&line).to_string();
            self.line(&line, &mut events);
        }
        events.extend(self.data.take());
        events
    }

    fn line(&mut self, line: &str, events: &mut Vec<String>) {
        if line.is_empty() {
            events.extend(self.data.take());
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        if field != "data" {
            return;
        }
        let value = value.strip_prefix(' ').unwrap_or(value);
        match &mut self.data {
            Some(data) => {
                data.push('\n');
                data.push_str(value);
            }
            None => self.data = Some(value.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_any_chunking() {
        let stream = ": keep-alive\r\nevent: x\r\ndata: {\"a\":\"é\"}\r\n\r\ndata: one\ndata: two\n\ndata: [DONE]";
        let bytes = stream.as_bytes();
        for size in 1..bytes.len() {
            let mut parser = SseParser::default();
            let mut events = Vec::new();
            for chunk in bytes.chunks(size) {
                events.extend(parser.push(chunk));
            }
            events.extend(parser.finish());
            assert_eq!(
                events,
                vec!["{\"a\":\"é\"}", "one\ntwo", "[DONE]"],
                "chunk size {size}"
            );
        }
    }
}
