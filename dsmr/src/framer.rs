//! Cutting a P1 byte stream into telegrams.

use crate::{DsmrError, Telegram, parse};

/// Default [`Framer`] buffer limit. The longest real telegrams (Belgian meters with a
/// thirteen-month peak history) are around 2 KiB.
pub const DEFAULT_MAX_TELEGRAM_LEN: usize = 8 * 1024;

/// Incremental framer for a P1 byte stream (serial port, or a TCP bridge).
///
/// Feed it bytes as they arrive, in chunks of any size; [`Framer::push`] returns one
/// result per telegram those bytes completed, parsed with [`parse`]:
///
/// - A telegram starts at `/`; bytes between telegrams (line noise, or the tail of a
///   telegram the connection joined halfway) are discarded.
/// - It ends with its end line: `!` plus four hex CRC digits (DSMR 4+), or `!` followed
///   by the line ending (DSMR 2.2/3.0). A telegram is handed over as soon as its CRC is
///   complete, without waiting for the line ending.
/// - A `/` after the identification line cannot belong to the telegram: the telegram
///   was cut short and the next one begins. The cut one is reported as
///   [`DsmrError::MissingEnd`] and framing restarts at the `/`.
/// - A `/` on the identification line is remembered: if noise that happened to contain
///   a `/` opened the frame, the telegram really starts there. Such a frame is parsed
///   from that later `/` first, then from its start.
/// - The buffer never exceeds the limit ([`DEFAULT_MAX_TELEGRAM_LEN`] by default): a
///   longer telegram is dropped and reported as [`DsmrError::TooLong`].
///
/// Telegrams that fail are never returned as `Ok`; they are reported as `Err` and
/// counted, in [`Framer::crc_errors`] for CRC mismatches and [`Framer::malformed`] for
/// everything else.
///
/// ```
/// use cogrid_dsmr::Framer;
///
/// let body = "/ISk5\\2MT382-1000\r\n\r\n1-3:0.2.8(50)\r\n\
///             1-0:1.8.1(000123.456*kWh)\r\n1-0:2.8.1(000001.000*kWh)\r\n!";
/// let stream = format!("noise{body}{:04X}\r\n", cogrid_dsmr::crc16_arc(body.as_bytes()));
/// let (first, second) = stream.as_bytes().split_at(40);
///
/// let mut framer = Framer::new();
/// assert!(framer.push(first).is_empty());
/// let telegrams = framer.push(second);
/// assert_eq!(telegrams.len(), 1);
/// assert_eq!(telegrams[0].as_ref().unwrap().import_wh, 123_456);
/// ```
#[derive(Debug, Clone)]
pub struct Framer {
    buf: Vec<u8>,
    max_len: usize,
    state: State,
    /// Offset in `buf` of the last `/` seen on the identification line after the first.
    restart: Option<usize>,
    crc_errors: u64,
    malformed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between telegrams, discarding bytes until a `/`.
    Hunting,
    /// On the identification line.
    Header,
    /// On the data lines; `line_start` right after a newline, where `!` ends the telegram.
    Data { line_start: bool },
    /// After the `!` of the end line, with `digits` CRC hex digits read so far.
    Crc { digits: u8 },
}

impl Default for Framer {
    fn default() -> Self {
        Self::new()
    }
}

impl Framer {
    /// A framer holding at most [`DEFAULT_MAX_TELEGRAM_LEN`] bytes.
    pub fn new() -> Self {
        Self::with_max_len(DEFAULT_MAX_TELEGRAM_LEN)
    }

    /// A framer holding at most `max_len` bytes of one telegram.
    pub fn with_max_len(max_len: usize) -> Self {
        Self {
            buf: Vec::new(),
            max_len,
            state: State::Hunting,
            restart: None,
            crc_errors: 0,
            malformed: 0,
        }
    }

    /// Feeds received bytes; returns the telegrams they completed, in stream order.
    ///
    /// Usually empty or one element. A partial telegram stays buffered for the next call.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Result<Telegram, DsmrError>> {
        let mut done = Vec::new();
        for &byte in bytes {
            self.feed(byte, &mut done);
        }
        done
    }

    /// Telegrams dropped because their CRC did not match.
    pub fn crc_errors(&self) -> u64 {
        self.crc_errors
    }

    /// Telegrams dropped for any other reason: cut short, too long, or unparsable.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    fn feed(&mut self, byte: u8, done: &mut Vec<Result<Telegram, DsmrError>>) {
        match self.state {
            State::Hunting => {
                if byte == b'/' {
                    self.start();
                }
            }
            State::Header => {
                if self.append(byte, done) {
                    match byte {
                        b'/' => self.restart = Some(self.buf.len() - 1),
                        b'\n' => self.state = State::Data { line_start: true },
                        _ => {}
                    }
                }
            }
            State::Data { .. } if byte == b'/' => {
                self.reject(DsmrError::MissingEnd, done);
                self.start();
            }
            State::Data { line_start } => {
                if self.append(byte, done) {
                    self.state = if line_start && byte == b'!' {
                        State::Crc { digits: 0 }
                    } else {
                        State::Data {
                            line_start: byte == b'\n',
                        }
                    };
                }
            }
            State::Crc { digits } if byte.is_ascii_hexdigit() => {
                if self.append(byte, done) {
                    if digits == 3 {
                        self.complete(done);
                    } else {
                        self.state = State::Crc { digits: digits + 1 };
                    }
                }
            }
            State::Crc { .. } => {
                // A bare `!` (DSMR 2.2/3.0) or a short CRC: the frame ends here, and this
                // byte (the line ending, or a `/` when it is missing) comes after it.
                self.complete(done);
                self.feed(byte, done);
            }
        }
    }

    fn start(&mut self) {
        self.buf.clear();
        self.buf.push(b'/');
        self.restart = None;
        self.state = State::Header;
    }

    /// Appends `byte` unless the buffer is full. A full buffer is first trimmed to the
    /// remembered restart point; failing that the frame is dropped, `byte` is fed again
    /// from [`State::Hunting`] and `false` returned.
    fn append(&mut self, byte: u8, done: &mut Vec<Result<Telegram, DsmrError>>) -> bool {
        if self.buf.len() >= self.max_len {
            match self.restart.take() {
                Some(at) => drop(self.buf.drain(..at)),
                None => {
                    self.reject(
                        DsmrError::TooLong {
                            limit: self.max_len,
                        },
                        done,
                    );
                    self.feed(byte, done);
                    return false;
                }
            }
        }
        self.buf.push(byte);
        true
    }

    fn complete(&mut self, done: &mut Vec<Result<Telegram, DsmrError>>) {
        let parsed = self
            .restart
            .and_then(|at| parse(&self.buf[at..]).ok())
            .map_or_else(|| parse(&self.buf), Ok);
        match parsed {
            Ok(telegram) => {
                self.clear();
                done.push(Ok(telegram));
            }
            Err(error) => self.reject(error, done),
        }
    }

    fn reject(&mut self, error: DsmrError, done: &mut Vec<Result<Telegram, DsmrError>>) {
        if matches!(error, DsmrError::CrcMismatch { .. }) {
            self.crc_errors += 1;
        } else {
            self.malformed += 1;
        }
        self.clear();
        done.push(Err(error));
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.restart = None;
        self.state = State::Hunting;
    }
}
