//! Decodes the bytes a remote terminal sends down the SSH channel into key presses and pastes.
//!
//! [`Decoder::feed`] takes bytes in whatever chunks they arrive. Each step of the decoder looks at
//! the start of the unconsumed bytes and either decodes one input, drops a sequence it does not
//! support (mouse and focus reports, unknown CSI), or — when the bytes so far are only the start of
//! a sequence or of a UTF-8 character — keeps them pending for the next call. So the result does
//! not depend on how the bytes were chunked. A lone ESC is ambiguous (the Esc key, or the start of
//! a sequence whose rest is still in flight); the caller resolves it with a short timer and
//! [`Decoder::flush`].
//!
//! The input is untrusted: invalid UTF-8 becomes U+FFFD, nothing panics, and memory is bounded:
//! outside a paste at most a short escape sequence is pending, and a bracketed paste keeps at most
//! 1 MiB. Pasted text is passed on verbatim and must be sanitized before it is drawn.

/// A key, without modifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    /// A printable character; Shift is already applied (`'A'`, not `'a'` + shift).
    Char(char),
    /// Enter (CR or LF).
    Enter,
    /// Tab.
    Tab,
    /// Shift+Tab.
    BackTab,
    /// Backspace (DEL or BS).
    Backspace,
    /// Escape, on its own.
    Esc,
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Arrow left.
    Left,
    /// Arrow right.
    Right,
    /// Home.
    Home,
    /// End.
    End,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
    /// Insert.
    Insert,
    /// Delete (forward).
    Delete,
    /// Function key F1–F12.
    F(u8),
}

/// Modifier keys held with a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Mods {
    /// Control.
    pub ctrl: bool,
    /// Alt (Meta), sent by terminals as an ESC prefix or an xterm modifier parameter.
    pub alt: bool,
    /// Shift; only reported for non-character keys such as Shift+Up.
    pub shift: bool,
}

impl Mods {
    /// No modifier.
    pub const NONE: Mods = Mods {
        ctrl: false,
        alt: false,
        shift: false,
    };
    /// Control only.
    pub const CTRL: Mods = Mods {
        ctrl: true,
        alt: false,
        shift: false,
    };
    /// Alt only.
    pub const ALT: Mods = Mods {
        ctrl: false,
        alt: true,
        shift: false,
    };

    /// Neither Control nor Alt (Shift may be held).
    pub fn plain(self) -> bool {
        !self.ctrl && !self.alt
    }
}

/// A key press with its modifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyEvent {
    /// The key.
    pub key: Key,
    /// The modifiers held.
    pub mods: Mods,
}

impl KeyEvent {
    /// `key` without modifiers.
    pub const fn plain(key: Key) -> Self {
        Self {
            key,
            mods: Mods::NONE,
        }
    }

    /// Character `c` without modifiers.
    pub const fn char(c: char) -> Self {
        Self::plain(Key::Char(c))
    }

    /// Ctrl + `c`, as decoded from a control byte: `c` is lowercase (`KeyEvent::ctrl('s')`).
    pub const fn ctrl(c: char) -> Self {
        Self {
            key: Key::Char(c),
            mods: Mods::CTRL,
        }
    }

    /// Alt + `c`.
    pub const fn alt(c: char) -> Self {
        Self {
            key: Key::Char(c),
            mods: Mods::ALT,
        }
    }

    /// `key` with `mods`.
    pub const fn new(key: Key, mods: Mods) -> Self {
        Self { key, mods }
    }
}

/// One decoded input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A key press.
    Key(KeyEvent),
    /// A bracketed paste: its text verbatim (lossy UTF-8, at most 1 MiB). Not sanitized.
    Paste(String),
}

const ESC: u8 = 0x1b;
/// Bytes that may stand between `ESC [` and the final byte of a CSI sequence.
const CSI_BODY: std::ops::RangeInclusive<u8> = 0x20..=0x3f;
/// Bytes that end a CSI or SS3 sequence.
const FINAL: std::ops::RangeInclusive<u8> = 0x40..=0x7e;
/// Longest escape sequence (without its final byte) that is waited for; longer ones are dropped.
const MAX_SEQ: usize = 32;
const PASTE_END: &[u8] = b"\x1b[201~";
/// Most bytes of pasted text that are kept; the rest of a paste is discarded.
const MAX_PASTE: usize = 1024 * 1024;

/// Stateful decoder for one terminal's input stream.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Bytes not decoded yet: an unfinished sequence or character (in a paste: the part of the
    /// paste-end marker seen so far).
    pending: Vec<u8>,
    /// The text of the bracketed paste in progress, if any.
    paste: Option<Vec<u8>>,
    /// Inside an overlong CSI sequence: discard bytes up to and including its final byte.
    skip_csi: bool,
}

impl Decoder {
    /// A decoder with nothing pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decode as many complete inputs as `bytes` (appended to what is pending) allow. A trailing
    /// incomplete escape sequence or UTF-8 char stays pending for the next call.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Input> {
        let mut buf = std::mem::take(&mut self.pending);
        buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut rest = buf.as_slice();
        while !rest.is_empty() {
            let Some(used) = self.step(rest, &mut out) else {
                break;
            };
            rest = rest.get(used..).unwrap_or_default();
        }
        self.pending = rest.to_vec();
        out
    }

    /// True while bytes are pending (a lone ESC or a partial sequence); the caller arms a short
    /// timer (e.g. 25 ms) and calls [`Decoder::flush`] if nothing arrives before it fires.
    /// False during a bracketed paste, which only its end marker finishes.
    pub fn has_pending(&self) -> bool {
        self.paste.is_none() && (!self.pending.is_empty() || self.skip_csi)
    }

    /// True between the start and end markers of a bracketed paste.
    pub fn in_paste(&self) -> bool {
        self.paste.is_some()
    }

    /// The timer fired with nothing new. A lone ESC becomes [`Key::Esc`]; `ESC [` or `ESC O` is
    /// what the user typed, Alt+`[` or Alt+`O`. Anything else pending — a longer unfinished
    /// sequence or an incomplete UTF-8 character — is dropped, since decoding the fragments as
    /// keys would type garbage. A bracketed paste in progress is left alone.
    pub fn flush(&mut self) -> Vec<Input> {
        if self.paste.is_some() {
            return Vec::new();
        }
        self.skip_csi = false;
        let key = match std::mem::take(&mut self.pending).as_slice() {
            [ESC] => Some(KeyEvent::plain(Key::Esc)),
            [ESC, b @ (b'[' | b'O')] => Some(KeyEvent::alt(char::from(*b))),
            _ => None,
        };
        key.map(Input::Key).into_iter().collect()
    }

    /// Decodes from the start of `rest`, pushing any result to `out`. Returns how many bytes were
    /// used, or `None` when nothing can be decided until more bytes arrive.
    fn step(&mut self, rest: &[u8], out: &mut Vec<Input>) -> Option<usize> {
        if let Some(text) = &mut self.paste {
            let end_marker = rest.windows(PASTE_END.len()).position(|w| w == PASTE_END);
            let Some(end) = end_marker else {
                // Keep back what may be the start of the end marker.
                let used = rest.len().saturating_sub(partial_suffix(rest, PASTE_END));
                push_capped(text, rest.get(..used).unwrap_or_default());
                return (used > 0).then_some(used);
            };
            push_capped(text, rest.get(..end).unwrap_or_default());
            out.push(Input::Paste(paste_text(std::mem::take(text))));
            self.paste = None;
            return Some(end + PASTE_END.len());
        }
        if self.skip_csi {
            let body = rest.iter().take_while(|b| CSI_BODY.contains(b)).count();
            if body < rest.len() {
                self.skip_csi = false;
                let has_final = rest.get(body).is_some_and(|b| FINAL.contains(b));
                return Some(body + usize::from(has_final));
            }
            return Some(body);
        }
        let (used, action) = parse(rest)?;
        match action {
            Action::Key(key) => out.push(Input::Key(key)),
            Action::Ignore => {}
            Action::StartPaste => self.paste = Some(Vec::new()),
            Action::SkipCsi => self.skip_csi = true,
        }
        Some(used)
    }
}

/// What a decoded sequence asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Key(KeyEvent),
    /// A sequence that is recognised but not supported: drop it.
    Ignore,
    StartPaste,
    /// An overlong CSI sequence: drop it and what follows up to its final byte.
    SkipCsi,
}

/// Bytes used and what they mean, or `None` if `bytes` is only the start of something.
type Parsed = Option<(usize, Action)>;

/// Decodes one input from the start of non-empty `bytes`.
fn parse(bytes: &[u8]) -> Parsed {
    match bytes {
        [ESC] => None,
        [ESC, b'[', ..] => parse_csi(bytes),
        [ESC, b'O', ..] => match bytes.get(2) {
            None => None,
            Some(b) if FINAL.contains(b) => Some((3, ss3_key(*b))),
            Some(_) => Some((2, Action::Ignore)),
        },
        // ESC ESC: the first one was the Esc key.
        [ESC, ESC, ..] => Some((1, Action::Key(KeyEvent::plain(Key::Esc)))),
        // ESC before any other key: Alt + that key.
        [ESC, rest @ ..] => match parse_plain(rest)? {
            (used, Action::Key(mut key)) => {
                key.mods.alt = true;
                Some((used + 1, Action::Key(key)))
            }
            (used, action) => Some((used + 1, action)),
        },
        _ => parse_plain(bytes),
    }
}

/// Decodes a control byte or one UTF-8 character.
fn parse_plain(bytes: &[u8]) -> Parsed {
    let &first = bytes.first()?;
    let key = match first {
        b'\r' | b'\n' => KeyEvent::plain(Key::Enter),
        b'\t' => KeyEvent::plain(Key::Tab),
        0x7f | 0x08 => KeyEvent::plain(Key::Backspace),
        0x00 => KeyEvent::ctrl(' '),
        0x01..=0x1a => KeyEvent::ctrl(char::from(b'a' - 1 + first)),
        0x1c..=0x1f => KeyEvent::ctrl(char::from(b'\\' - 0x1c + first)),
        _ => return parse_utf8(bytes),
    };
    Some((1, Action::Key(key)))
}

/// Decodes one UTF-8 character; an invalid sequence is U+FFFD, a C1 control is dropped.
fn parse_utf8(bytes: &[u8]) -> Parsed {
    let head = bytes.get(..4).unwrap_or(bytes);
    let valid = match std::str::from_utf8(head) {
        Ok(s) => s,
        Err(e) => match (e.valid_up_to(), e.error_len()) {
            // The character is unfinished.
            (0, None) => return None,
            (0, Some(bad)) => return Some((bad, Action::Key(KeyEvent::char('\u{fffd}')))),
            (good, _) => std::str::from_utf8(head.get(..good)?).ok()?,
        },
    };
    let c = valid.chars().next()?;
    let action = if c.is_control() {
        Action::Ignore
    } else {
        Action::Key(KeyEvent::char(c))
    };
    Some((c.len_utf8(), action))
}

/// Decodes a sequence starting with `ESC [`.
fn parse_csi(bytes: &[u8]) -> Parsed {
    let body = bytes.get(2..).unwrap_or_default();
    let params_len = body.iter().take_while(|b| CSI_BODY.contains(b)).count();
    let seq_len = 2 + params_len;
    let Some(&last) = body.get(params_len) else {
        return (seq_len > MAX_SEQ).then_some((seq_len, Action::SkipCsi));
    };
    if !FINAL.contains(&last) {
        // Cut short by a byte that cannot be part of it: drop what came before that byte.
        return Some((seq_len, Action::Ignore));
    }
    if seq_len > MAX_SEQ {
        return Some((seq_len + 1, Action::Ignore));
    }
    let params = body.get(..params_len).unwrap_or_default();
    match (params, last) {
        // X10 mouse report: three raw bytes follow.
        (b"", b'M') => (bytes.len() >= seq_len + 4).then_some((seq_len + 4, Action::Ignore)),
        // Linux console F1–F5: `ESC [ [ A` to `ESC [ [ E`.
        (b"", b'[') => match bytes.get(seq_len + 1) {
            None => None,
            Some(&b @ b'A'..=b'E') => Some((seq_len + 2, with_mods(Key::F(b - b'A' + 1), None))),
            Some(b) if FINAL.contains(b) => Some((seq_len + 2, Action::Ignore)),
            Some(_) => Some((seq_len + 1, Action::Ignore)),
        },
        _ => Some((seq_len + 1, csi_key(params, last))),
    }
}

/// Maps the parameters and final byte of a CSI sequence to a key.
fn csi_key(params: &[u8], last: u8) -> Action {
    let Some([code, mods]) = csi_params(params) else {
        return Action::Ignore;
    };
    let k = match last {
        b'A' => Key::Up,
        b'B' => Key::Down,
        b'C' => Key::Right,
        b'D' => Key::Left,
        b'H' => Key::Home,
        b'F' => Key::End,
        b'Z' => Key::BackTab,
        b'P'..=b'S' => Key::F(last - b'P' + 1),
        b'~' => match code {
            Some(1 | 7) => Key::Home,
            Some(4 | 8) => Key::End,
            Some(2) => Key::Insert,
            Some(3) => Key::Delete,
            Some(5) => Key::PageUp,
            Some(6) => Key::PageDown,
            Some(n @ 11..=15) => Key::F(n - 10),
            Some(n @ 17..=21) => Key::F(n - 11),
            Some(n @ 23..=24) => Key::F(n - 12),
            Some(200) => return Action::StartPaste,
            _ => return Action::Ignore,
        },
        _ => return Action::Ignore,
    };
    with_mods(k, mods)
}

/// `key` with modifiers from an xterm parameter (1 + shift·1 + alt·2 + ctrl·4).
fn with_mods(key: Key, param: Option<u8>) -> Action {
    let bits = param.unwrap_or(1).saturating_sub(1);
    let mods = Mods {
        shift: bits & 1 != 0,
        alt: bits & 2 != 0,
        ctrl: bits & 4 != 0,
    };
    Action::Key(KeyEvent { key, mods })
}

/// Parses CSI parameters of the form ``, `a` or `a;b` (decimal numbers below 256, either may be
/// empty). `None` for anything else, such as private markers (`<`, `?`) or a third parameter.
fn csi_params(params: &[u8]) -> Option<[Option<u8>; 2]> {
    let mut fields = params.split(|&b| b == b';');
    let mut parsed = [None, None];
    for slot in &mut parsed {
        let field = fields.next().unwrap_or_default();
        if !field.is_empty() {
            if !field.iter().all(u8::is_ascii_digit) {
                return None;
            }
            *slot = Some(std::str::from_utf8(field).ok()?.parse().ok()?);
        }
    }
    fields.next().is_none().then_some(parsed)
}

/// Maps the byte after `ESC O` to a key.
fn ss3_key(b: u8) -> Action {
    let k = match b {
        b'A' => Key::Up,
        b'B' => Key::Down,
        b'C' => Key::Right,
        b'D' => Key::Left,
        b'H' => Key::Home,
        b'F' => Key::End,
        b'P'..=b'S' => Key::F(b - b'P' + 1),
        _ => return Action::Ignore,
    };
    with_mods(k, None)
}

/// Length of the longest proper prefix of `pattern` that `hay` ends with.
fn partial_suffix(hay: &[u8], pattern: &[u8]) -> usize {
    (1..pattern.len())
        .rev()
        .find(|&n| pattern.get(..n).is_some_and(|p| hay.ends_with(p)))
        .unwrap_or(0)
}

/// Appends `bytes` to `text` as far as the paste limit allows.
fn push_capped(text: &mut Vec<u8>, bytes: &[u8]) {
    let room = MAX_PASTE.saturating_sub(text.len());
    text.extend_from_slice(bytes.get(..room).unwrap_or(bytes));
}

/// Turns collected paste bytes into text of at most [`MAX_PASTE`] bytes.
fn paste_text(bytes: Vec<u8>) -> String {
    let mut text = String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    // Replacement characters are longer than the bytes they replace.
    if text.len() > MAX_PASTE {
        let cut = (0..=MAX_PASTE)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text.truncate(cut);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASTE_START: &[u8] = b"\x1b[200~";

    fn key(key: Key) -> Input {
        Input::Key(KeyEvent::plain(key))
    }

    fn with(k: Key, ctrl: bool, alt: bool, shift: bool) -> Input {
        Input::Key(KeyEvent::new(k, Mods { ctrl, alt, shift }))
    }

    fn ch(c: char) -> Input {
        Input::Key(KeyEvent::char(c))
    }

    fn ctrl(c: char) -> Input {
        Input::Key(KeyEvent::ctrl(c))
    }

    fn alt(c: char) -> Input {
        Input::Key(KeyEvent::alt(c))
    }

    /// Decodes `bytes` in one piece, then flushes.
    fn decode(bytes: &[u8]) -> Vec<Input> {
        let mut decoder = Decoder::new();
        let mut out = decoder.feed(bytes);
        out.extend(decoder.flush());
        out
    }

    /// Decodes `bytes` fed in the given chunks, then flushes.
    fn decode_chunks<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<Input> {
        let mut decoder = Decoder::new();
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend(decoder.feed(chunk));
        }
        out.extend(decoder.flush());
        out
    }

    #[test]
    fn printable_and_utf8() {
        assert_eq!(decode(b"aZ ~"), [ch('a'), ch('Z'), ch(' '), ch('~')]);
        assert_eq!(decode("é日😀".as_bytes()), [ch('é'), ch('日'), ch('😀')]);
    }

    #[test]
    fn invalid_utf8_is_replacement_char() {
        const FFFD: Input = Input::Key(KeyEvent::char('\u{fffd}'));
        assert_eq!(decode(b"\xff"), [FFFD]);
        assert_eq!(decode(b"\x80a"), [FFFD, ch('a')]);
        assert_eq!(decode(b"\xe2\x82a"), [FFFD, ch('a')]);
        assert_eq!(decode(b"\xc0\xaf"), [FFFD, FFFD]);
        // An unfinished character at the end is dropped by flush.
        assert_eq!(decode(b"a\xe2\x82"), [ch('a')]);
        // A UTF-8-encoded C1 control is not a key.
        assert_eq!(decode("\u{9b}x".as_bytes()), [ch('x')]);
    }

    #[test]
    fn control_bytes() {
        assert_eq!(
            decode(b"\r\n\t"),
            [key(Key::Enter), key(Key::Enter), key(Key::Tab)]
        );
        assert_eq!(
            decode(b"\x7f\x08"),
            [key(Key::Backspace), key(Key::Backspace)]
        );
        assert_eq!(
            decode(b"\x13\x15\x03\x01\x1a"),
            [ctrl('s'), ctrl('u'), ctrl('c'), ctrl('a'), ctrl('z')]
        );
        assert_eq!(decode(b"\x00"), [ctrl(' ')]);
        assert_eq!(
            decode(b"\x1c\x1d\x1e\x1f"),
            [ctrl('\\'), ctrl(']'), ctrl('^'), ctrl('_')]
        );
    }

    #[test]
    fn alt_and_esc() {
        assert_eq!(decode(b"\x1bx"), [alt('x')]);
        assert_eq!(decode("\x1bé".as_bytes()), [alt('é')]);
        assert_eq!(
            decode(b"\x1b\x7f"),
            [with(Key::Backspace, false, true, false)]
        );
        assert_eq!(
            decode(b"\x1b\x13"),
            [with(Key::Char('s'), true, true, false)]
        );
        assert_eq!(decode(b"\x1b\x1b"), [key(Key::Esc), key(Key::Esc)]);
        assert_eq!(decode(b"\x1b\x1b[A"), [key(Key::Esc), key(Key::Up)]);
        assert_eq!(decode(b"\x1b["), [alt('[')]);
        assert_eq!(decode(b"\x1bO"), [alt('O')]);
        // A longer unfinished sequence is dropped by flush.
        assert_eq!(decode(b"\x1b[1;5"), []);
    }

    #[test]
    fn lone_esc_waits_for_flush() {
        let mut decoder = Decoder::new();
        assert_eq!(decoder.feed(b"\x1b"), []);
        assert!(decoder.has_pending());
        assert_eq!(decoder.flush(), [key(Key::Esc)]);
        assert!(!decoder.has_pending());
        assert_eq!(decoder.flush(), []);
    }

    #[test]
    fn esc_then_char_in_next_feed_is_alt() {
        let mut decoder = Decoder::new();
        assert_eq!(decoder.feed(b"\x1b"), []);
        assert_eq!(decoder.feed(b"x"), [alt('x')]);
        assert!(!decoder.has_pending());
    }

    #[test]
    fn csi_keys() {
        let cases: &[(&[u8], Key)] = &[
            (b"\x1b[A", Key::Up),
            (b"\x1b[B", Key::Down),
            (b"\x1b[C", Key::Right),
            (b"\x1b[D", Key::Left),
            (b"\x1b[H", Key::Home),
            (b"\x1b[F", Key::End),
            (b"\x1b[Z", Key::BackTab),
            (b"\x1b[1~", Key::Home),
            (b"\x1b[7~", Key::Home),
            (b"\x1b[4~", Key::End),
            (b"\x1b[8~", Key::End),
            (b"\x1b[2~", Key::Insert),
            (b"\x1b[3~", Key::Delete),
            (b"\x1b[5~", Key::PageUp),
            (b"\x1b[6~", Key::PageDown),
            (b"\x1b[11~", Key::F(1)),
            (b"\x1b[15~", Key::F(5)),
            (b"\x1b[17~", Key::F(6)),
            (b"\x1b[21~", Key::F(10)),
            (b"\x1b[23~", Key::F(11)),
            (b"\x1b[24~", Key::F(12)),
            (b"\x1bOA", Key::Up),
            (b"\x1bOB", Key::Down),
            (b"\x1bOC", Key::Right),
            (b"\x1bOD", Key::Left),
            (b"\x1bOH", Key::Home),
            (b"\x1bOF", Key::End),
            (b"\x1bOP", Key::F(1)),
            (b"\x1bOS", Key::F(4)),
            (b"\x1b[[A", Key::F(1)),
            (b"\x1b[[E", Key::F(5)),
        ];
        for (bytes, k) in cases {
            assert_eq!(decode(bytes), [key(*k)], "{bytes:?}");
        }
    }

    #[test]
    fn xterm_modifiers() {
        assert_eq!(decode(b"\x1b[1;5A"), [with(Key::Up, true, false, false)]);
        assert_eq!(decode(b"\x1b[1;2D"), [with(Key::Left, false, false, true)]);
        assert_eq!(decode(b"\x1b[1;3H"), [with(Key::Home, false, true, false)]);
        assert_eq!(decode(b"\x1b[1;8C"), [with(Key::Right, true, true, true)]);
        assert_eq!(
            decode(b"\x1b[3;5~"),
            [with(Key::Delete, true, false, false)]
        );
        assert_eq!(
            decode(b"\x1b[6;2~"),
            [with(Key::PageDown, false, false, true)]
        );
        assert_eq!(decode(b"\x1b[1;2P"), [with(Key::F(1), false, false, true)]);
        assert_eq!(decode(b"\x1b[15;5~"), [with(Key::F(5), true, false, false)]);
    }

    #[test]
    fn unsupported_sequences_are_dropped() {
        let cases: &[&[u8]] = &[
            b"\x1b[M !!",          // X10 mouse
            b"\x1b[M\xff\x1b\x80", // X10 mouse with high coordinates
            b"\x1b[<0;10;20M",     // SGR mouse press
            b"\x1b[<0;10;20m",     // SGR mouse release
            b"\x1b[I",             // focus in
            b"\x1b[O",             // focus out
            b"\x1b[99~",
            b"\x1b[201~", // paste end without a start
            b"\x1b[?1;2c",
            b"\x1b[27;5;13~",
            b"\x1b[1 q",
            b"\x1bOx",
            b"\x1b[[Z",
        ];
        for bytes in cases {
            let mut with_tail = bytes.to_vec();
            with_tail.push(b'k');
            assert_eq!(decode(&with_tail), [ch('k')], "{bytes:?}");
        }
        // A sequence cut short by a byte that cannot belong to it: the byte is decoded.
        assert_eq!(decode(b"\x1b[12\ra"), [key(Key::Enter), ch('a')]);
        assert_eq!(decode(b"\x1bO\x1bOA"), [key(Key::Up)]);
    }

    #[test]
    fn overlong_csi_is_dropped() {
        let long = [b"\x1b[".as_slice(), &[b'1'; 100], b"Ax"].concat();
        assert_eq!(decode(&long), [ch('x')]);
        let mut decoder = Decoder::new();
        let mut out = Vec::new();
        for b in &long {
            out.extend(decoder.feed(&[*b]));
            assert!(decoder.pending.len() <= MAX_SEQ);
        }
        assert_eq!(out, [ch('x')]);
    }

    #[test]
    fn bracketed_paste() {
        let bytes = "a\x1b[200~hi\r\x1b[A\x1b[200~日本\x1b[201~b".as_bytes();
        let expected = [
            ch('a'),
            Input::Paste("hi\r\x1b[A\x1b[200~日本".into()),
            ch('b'),
        ];
        assert_eq!(decode(bytes), expected);
        assert_eq!(decode(b"\x1b[200~\x1b[201~"), [Input::Paste(String::new())]);
        assert_eq!(
            decode(b"\x1b[200~\xffok\x1b[201~"),
            [Input::Paste("\u{fffd}ok".into())]
        );
    }

    #[test]
    fn paste_waits_for_its_end_marker() {
        let mut decoder = Decoder::new();
        assert_eq!(decoder.feed(b"\x1b[200~abc\x1b[20"), []);
        assert!(decoder.in_paste());
        assert!(!decoder.has_pending());
        assert_eq!(decoder.flush(), []);
        assert_eq!(decoder.feed(b"1~x"), [Input::Paste("abc".into()), ch('x')]);
        assert!(!decoder.in_paste());
    }

    #[test]
    fn huge_paste_is_capped() {
        let body = "é".repeat(MAX_PASTE); // 2 MiB
        let bytes = [PASTE_START, body.as_bytes(), PASTE_END, b"z"].concat();
        let out = decode(&bytes);
        let [Input::Paste(text), z] = out.as_slice() else {
            panic!("{:?}", out.len())
        };
        assert_eq!(text.len(), MAX_PASTE);
        assert!(text.chars().all(|c| c == 'é'));
        assert_eq!(*z, ch('z'));
        // Fed in chunks, and with invalid bytes that grow when replaced.
        let bytes = [PASTE_START, &vec![0xff; 2 * MAX_PASTE], PASTE_END].concat();
        let out = decode_chunks(bytes.chunks(4096));
        let [Input::Paste(text)] = out.as_slice() else {
            panic!("{:?}", out.len())
        };
        assert!(text.len() <= MAX_PASTE);
    }

    /// Inputs that must decode the same however they are split.
    const SAMPLES: &[&[u8]] = &[
        b"hello\r",
        "😀é日".as_bytes(),
        b"\x1b[1;5A\x1b[3;5~\x1b[15~",
        b"\x1bOP\x1b[[C\x1b[Z",
        b"\x1b\x1b[B\x1bx\x1b\x7f",
        b"\x1b[M !!\x1b[<0;1;2M\x1b[Iq",
        b"\xe2\x82a\xff\xf0\x9f\x98",
        "\x1b[200~päste 😀\r\n\x1b[201~!".as_bytes(),
        b"\x1b[200~\x1b[20\x1b[201\x1b[201~\x1b[A",
    ];

    #[test]
    fn any_split_decodes_the_same() {
        for sample in SAMPLES {
            let whole = decode(sample);
            assert!(!whole.is_empty());
            for i in 0..=sample.len() {
                let (a, b) = sample.split_at(i);
                assert_eq!(decode_chunks([a, b]), whole, "{sample:?} split at {i}");
            }
            assert_eq!(
                decode_chunks(sample.chunks(1)),
                whole,
                "{sample:?} byte by byte"
            );
        }
    }

    /// xorshift64: a small deterministic PRNG.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        /// Up to `len` bytes, made of pieces of escape sequences, digits and high bytes.
        fn bytes(&mut self, len: usize) -> Vec<u8> {
            const PIECES: &[&[u8]] = &[
                b"\x1b",
                b"[",
                b"O",
                b";",
                b"~",
                b"M",
                b"<",
                b"\r",
                b"\x7f",
                b"A",
                b"200~",
                b"201~",
                b"\x1b[",
                b"\x1b[200~",
                b"\x1b[201~",
                b"1;5",
                b"1111111111111111111111111111111111",
            ];
            let mut out = Vec::with_capacity(len + 20);
            while out.len() < len {
                match self.below(4) {
                    0 => out.extend_from_slice(PIECES[self.below(PIECES.len())]),
                    1 => out.push(b'0' + self.below(10) as u8),
                    2 => out.push(0x80 + self.below(0x80) as u8),
                    _ => out.push(self.next() as u8),
                }
            }
            out.truncate(len);
            out
        }
    }

    #[test]
    fn random_bytes_in_random_chunks() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let len = rng.below(65);
            let bytes = rng.bytes(len);
            let whole = decode(&bytes);
            let mut decoder = Decoder::new();
            let mut out = Vec::new();
            let mut rest = bytes.as_slice();
            while !rest.is_empty() {
                let (chunk, tail) = rest.split_at(1 + rng.below(rest.len().min(8)));
                out.extend(decoder.feed(chunk));
                rest = tail;
                if !decoder.in_paste() {
                    assert!(decoder.pending.len() <= 64, "{bytes:?}");
                }
            }
            out.extend(decoder.flush());
            assert_eq!(out, whole, "{bytes:?}");
        }
    }
}
