//! Encoding and decoding of every payload, with size limits and validation.
//!
//! Payloads are JSON. Two decoders share one error type:
//! - [`decode`] (feature `alloc`) uses `serde_json` and reports the path of the
//!   bad field (`readings.temp`), for the gateway and integrators;
//! - [`decode_core`] uses `serde-json-core`, with no allocator, for firmware.
//!
//! Both check the size limit first and run [`Message::validate`] after parsing,
//! so a message that parses but breaks a range or rule is rejected too.

use core::fmt::{self, Write as _};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Short owned text for error details; long details are truncated.
pub type Text = heapless::String<96>;

/// Copies `s` into a [`Text`], truncating at a character boundary.
pub fn text(s: &str) -> Text {
    let mut out = Text::new();
    for ch in s.chars() {
        if out.push(ch).is_err() {
            break;
        }
    }
    out
}

/// Formats into a [`Text`], truncating.
pub fn text_fmt(args: fmt::Arguments<'_>) -> Text {
    struct Trunc(Text);
    impl fmt::Write for Trunc {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            for ch in s.chars() {
                if self.0.push(ch).is_err() {
                    break;
                }
            }
            Ok(())
        }
    }
    let mut t = Trunc(Text::new());
    let _ = t.write_fmt(args);
    t.0
}

/// Why a payload was rejected. Each variant says what is wrong and where:
/// `message` is the payload type, `path` the field (`""` for the whole payload).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The payload exceeds the message type's size limit (checked before parsing).
    #[error("{message}: payload is {len} bytes, the limit is {max}")]
    TooLarge {
        /// Payload type.
        message: &'static str,
        /// Payload length.
        len: usize,
        /// Limit for this type.
        max: usize,
    },
    /// Not well-formed JSON.
    #[error("{message}: malformed JSON at byte {at}: {detail}")]
    Syntax {
        /// Payload type.
        message: &'static str,
        /// Byte offset (serde_json: column on the failing line) where parsing stopped.
        at: usize,
        /// What the parser expected.
        detail: Text,
    },
    /// A required field is absent.
    #[error("{message}: missing required field `{field}`{}", at_path(path))]
    MissingField {
        /// Payload type.
        message: &'static str,
        /// The missing field.
        field: Text,
        /// Path of the object that lacks it.
        path: Text,
    },
    /// A field holds a name that is not one of the known ones (a kind, a state).
    #[error("{message}: unknown value `{value}` at `{path}`")]
    Unknown {
        /// Payload type.
        message: &'static str,
        /// The unknown name.
        value: Text,
        /// Where it was found.
        path: Text,
    },
    /// A field has the wrong type or an invalid value (bad identifier, too many items).
    #[error("{message}: invalid value{}: {detail}", at_path(path))]
    Invalid {
        /// Payload type.
        message: &'static str,
        /// Field path.
        path: Text,
        /// What is wrong.
        detail: Text,
    },
    /// A value parsed but is outside its allowed range.
    #[error("{message}: `{field}` is out of range: {detail}")]
    OutOfRange {
        /// Payload type.
        message: &'static str,
        /// Field name.
        field: &'static str,
        /// Allowed range and the value seen.
        detail: Text,
    },
}

fn at_path(path: &Text) -> Text {
    if path.is_empty() {
        Text::new()
    } else {
        text_fmt(format_args!(" in `{path}`"))
    }
}

impl DecodeError {
    /// A short stable name for counting rejections per reason.
    pub const fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too-large",
            Self::Syntax { .. } => "syntax",
            Self::MissingField { .. } => "missing-field",
            Self::Unknown { .. } => "unknown-value",
            Self::Invalid { .. } => "invalid",
            Self::OutOfRange { .. } => "out-of-range",
        }
    }

    /// Builds an [`DecodeError::OutOfRange`].
    pub fn range(message: &'static str, field: &'static str, args: fmt::Arguments<'_>) -> Self {
        Self::OutOfRange {
            message,
            field,
            detail: text_fmt(args),
        }
    }
}

/// A payload type: its name in errors, size limit and semantic checks.
pub trait Message: Serialize + DeserializeOwned {
    /// Name used in errors (`"event"`, `"telemetry"`).
    const NAME: &'static str;
    /// Largest accepted payload in bytes.
    const MAX_LEN: usize;
    /// Checks ranges and rules that the type system does not.
    ///
    /// # Errors
    /// [`DecodeError::OutOfRange`] or [`DecodeError::Invalid`].
    fn validate(&self) -> Result<(), DecodeError> {
        Ok(())
    }
}

fn check_len<M: Message>(bytes: &[u8]) -> Result<(), DecodeError> {
    if bytes.len() > M::MAX_LEN {
        return Err(DecodeError::TooLarge {
            message: M::NAME,
            len: bytes.len(),
            max: M::MAX_LEN,
        });
    }
    Ok(())
}

/// Classifies a serde error message into a typed error.
///
/// serde's standard messages (`missing field `x``, `unknown variant `y`, expected ...`)
/// are stable; anything else is reported as [`DecodeError::Invalid`].
#[cfg(feature = "std")]
fn classify(message: &'static str, msg: &str, path: &str) -> DecodeError {
    fn quoted(s: &str) -> &str {
        s.split('`').nth(1).unwrap_or(s)
    }
    if let Some(rest) = msg.strip_prefix("missing field ") {
        return DecodeError::MissingField {
            message,
            field: text(quoted(rest)),
            path: text(path),
        };
    }
    if let Some(rest) = msg.strip_prefix("unknown variant ") {
        return DecodeError::Unknown {
            message,
            value: text(quoted(rest)),
            path: text(path),
        };
    }
    DecodeError::Invalid {
        message,
        path: text(path),
        detail: text(msg.split(" at line ").next().unwrap_or(msg)),
    }
}

/// Decodes and validates a payload with `serde_json`, reporting field paths.
///
/// # Errors
/// A [`DecodeError`] naming what is wrong and where; never panics on any input.
#[cfg(feature = "std")]
pub fn decode<M: Message>(bytes: &[u8]) -> Result<M, DecodeError> {
    check_len::<M>(bytes)?;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: M = match serde_path_to_error::deserialize(&mut de) {
        Ok(v) => v,
        Err(e) => {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            let inner = e.into_inner();
            return Err(json_error(M::NAME, &inner, &path));
        }
    };
    if let Err(e) = de.end() {
        return Err(json_error(M::NAME, &e, ""));
    }
    value.validate()?;
    Ok(value)
}

#[cfg(feature = "std")]
fn json_error(message: &'static str, e: &serde_json::Error, path: &str) -> DecodeError {
    use serde_json::error::Category;
    let full = e.to_string();
    let msg = full.split(" at line ").next().unwrap_or(&full);
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => DecodeError::Syntax {
            message,
            at: e.column(),
            detail: text(msg),
        },
        Category::Data => classify(message, msg, path),
    }
}

/// Decodes and validates a payload with `serde-json-core` (no allocator).
///
/// # Errors
/// A [`DecodeError`]. This decoder knows no field paths, and cannot tell a
/// missing field or unknown name from another invalid value: those are all
/// [`DecodeError::Invalid`]. (`serde-json-core`'s `custom-error-messages`
/// feature would say more, but panics on messages over 64 bytes.)
pub fn decode_core<M: Message>(bytes: &[u8]) -> Result<M, DecodeError> {
    use serde_json_core::de::Error as E;
    check_len::<M>(bytes)?;
    let value = match serde_json_core::from_slice::<M>(bytes) {
        Ok((v, _)) => v,
        Err(e @ (E::InvalidType | E::InvalidNumber | E::CustomError)) => {
            return Err(DecodeError::Invalid {
                message: M::NAME,
                path: Text::new(),
                detail: text_fmt(format_args!("{e}")),
            });
        }
        Err(e) => {
            return Err(DecodeError::Syntax {
                message: M::NAME,
                at: 0,
                detail: text_fmt(format_args!("{e}")),
            });
        }
    };
    value.validate()?;
    Ok(value)
}

/// Why a message could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The output buffer is too small.
    #[error("the output buffer is too small")]
    BufferFull,
}

/// Encodes a message into `buf` without allocating; returns the bytes written.
///
/// # Errors
/// [`EncodeError::BufferFull`] when `buf` is too small.
pub fn encode_core<M: Message>(msg: &M, buf: &mut [u8]) -> Result<usize, EncodeError> {
    serde_json_core::to_slice(msg, buf).map_err(|_| EncodeError::BufferFull)
}

/// Encodes a message to a byte vector.
#[cfg(feature = "alloc")]
pub fn encode<M: Message>(msg: &M) -> alloc::vec::Vec<u8> {
    // Serializing our own types to a Vec cannot fail: no maps with non-string keys.
    serde_json::to_vec(msg).unwrap_or_default()
}
