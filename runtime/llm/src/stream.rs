//! Turning sampled tokens into text that is safe to show as it streams.
//!
//! Byte-level tokens can split a UTF-8 character (common for Chinese), and a
//! stop string can arrive split across tokens. [`TextStream`] emits only
//! complete characters and holds back any tail that could still become a
//! stop string, so the caller never shows text it must later take back.

/// Incremental UTF-8 decoding plus stop-string detection.
#[derive(Debug, Default)]
pub(crate) struct TextStream {
    pending_bytes: Vec<u8>,
    held: String,
    stops: Vec<String>,
}

/// Result of feeding one token.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Piece {
    /// Text to show now (may be empty).
    pub text: String,
    /// A stop string was reached; `text` ends just before it.
    pub stopped: bool,
}

impl TextStream {
    pub(crate) fn new(stops: &[String]) -> Self {
        Self {
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            ..Self::default()
        }
    }

    /// Feeds the bytes of one token.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Piece {
        self.pending_bytes.extend_from_slice(bytes);
        let complete = take_complete_utf8(&mut self.pending_bytes);
        self.held.push_str(&complete);

        if let Some(at) = self
            .stops
            .iter()
            .filter_map(|s| self.held.find(s.as_str()))
            .min()
        {
            let text = self.held[..at].to_owned();
            self.held.clear();
            return Piece {
                text,
                stopped: true,
            };
        }
        let keep = self
            .stops
            .iter()
            .map(|s| longest_suffix_prefix(&self.held, s))
            .max()
            .unwrap_or(0);
        let split = self.held.len() - keep;
        let text = self.held[..split].to_owned();
        self.held.drain(..split);
        Piece {
            text,
            stopped: false,
        }
    }

    /// Everything still held back, at the end of generation. Bytes of a
    /// character the model never finished (cut by `max_tokens`) are dropped:
    /// a reader is better served by a shorter answer than by a U+FFFD.
    pub(crate) fn finish(&mut self) -> String {
        self.pending_bytes.clear();
        std::mem::take(&mut self.held)
    }
}

/// Removes and returns the longest decodable prefix of `buf`; invalid bytes
/// become U+FFFD; an incomplete character at the end stays in `buf`.
fn take_complete_utf8(buf: &mut Vec<u8>) -> String {
    let mut out = String::new();
    let mut start = 0;
    loop {
        match std::str::from_utf8(&buf[start..]) {
            Ok(s) => {
                out.push_str(s);
                start = buf.len();
                break;
            }
            Err(e) => {
                let valid = start + e.valid_up_to();
                // Safe: from_utf8 just validated this range.
                out.push_str(std::str::from_utf8(&buf[start..valid]).unwrap_or_default());
                match e.error_len() {
                    Some(n) => {
                        out.push(char::REPLACEMENT_CHARACTER);
                        start = valid + n;
                    }
                    None => {
                        start = valid;
                        break;
                    }
                }
            }
        }
    }
    buf.drain(..start);
    out
}

/// Length (bytes) of the longest suffix of `text` that is a proper prefix of `stop`,
/// on character boundaries.
fn longest_suffix_prefix(text: &str, stop: &str) -> usize {
    let max = stop.len().saturating_sub(1).min(text.len());
    (1..=max)
        .rev()
        .find(|&n| {
            let at = text.len() - n;
            text.is_char_boundary(at) && stop.starts_with(&text[at..])
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emits_only_complete_characters() {
        let mut s = TextStream::new(&[]);
        let bytes = "你好".as_bytes();
        assert_eq!(s.push(&bytes[..2]).text, "");
        assert_eq!(s.push(&bytes[2..4]).text, "你");
        assert_eq!(s.push(&bytes[4..]).text, "好");
        assert_eq!(s.finish(), "");
    }

    #[test]
    fn invalid_bytes_become_replacement_characters() {
        let mut s = TextStream::new(&[]);
        assert_eq!(s.push(&[b'a', 0xFF, b'b']).text, "a\u{FFFD}b");
        assert_eq!(s.push(&[0xE4]).text, "");
        assert_eq!(
            s.finish(),
            "",
            "an unfinished character is dropped at the end"
        );
    }

    #[test]
    fn holds_back_a_possible_stop_string_and_stops_before_it() {
        let mut s = TextStream::new(&["\nUser:".to_owned()]);
        assert_eq!(
            s.push(b"Hello"),
            Piece {
                text: "Hello".into(),
                stopped: false
            }
        );
        assert_eq!(
            s.push(b"\nUs"),
            Piece {
                text: "".into(),
                stopped: false
            }
        );
        assert_eq!(
            s.push(b"er: hi"),
            Piece {
                text: "".into(),
                stopped: true
            }
        );
    }

    #[test]
    fn releases_held_text_that_turned_out_not_to_be_a_stop() {
        let mut s = TextStream::new(&["END".to_owned()]);
        assert_eq!(s.push(b"the EN").text, "the ");
        assert!(s.push(b"D").stopped);
        let mut s = TextStream::new(&["END".to_owned()]);
        assert_eq!(s.push(b"EN").text, "");
        assert_eq!(s.push(b"ough").text, "ENough");
        assert_eq!(s.push(b"EN").text, "");
        assert_eq!(s.finish(), "EN");
    }
}
