//! The card reader line: newline-terminated ASCII credential ids over a
//! serial port, and the fixed allow-list they can be checked against.
//!
//! A line is a card id (`card-0001`), or a credential id behind a one-letter
//! kind: `C:` card, `P:` a PIN typed on the keypad, `Q:` a QR code's token.

use embedded_hal_nb::nb;
use embedded_hal_nb::serial::Read;
use protocol::access::CredKind;

/// Longest card id accepted, in bytes.
pub const CARD_ID_LEN: usize = 20;

/// A card id: 1 to [`CARD_ID_LEN`] characters from `[A-Za-z0-9_-]`.
pub type CardId = heapless::String<CARD_ID_LEN>;

/// What one line from the reader was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardLine {
    /// A well-formed credential id and its kind.
    Read(CredKind, CardId),
    /// Too long, a forbidden character, or damaged by a serial error.
    Garbled,
}

/// Assembles lines from the reader, byte by byte, without blocking.
#[derive(Debug, Clone, Default)]
pub struct LineReader {
    buf: CardId,
    /// The current line is already known to be bad.
    bad: bool,
    /// The kind named by a `K:` prefix on the current line.
    kind: Option<CredKind>,
}

impl LineReader {
    /// Reads bytes until the port has none, a line ends, or `budget` bytes
    /// were read (so a babbling reader cannot starve the node). `\r` is
    /// ignored; blank lines are skipped.
    pub fn poll<R: Read<u8>>(&mut self, rx: &mut R, budget: &mut usize) -> Option<CardLine> {
        while *budget > 0 {
            *budget -= 1;
            match rx.read() {
                Ok(b'\n') => {
                    if let Some(line) = self.end_line() {
                        return Some(line);
                    }
                }
                Ok(b'\r') => {}
                Ok(b':') if self.kind.is_none() && self.buf.len() == 1 => {
                    self.kind = match self.buf.as_str() {
                        "C" => Some(CredKind::Card),
                        "P" => Some(CredKind::Pin),
                        "Q" => Some(CredKind::Qr),
                        _ => None,
                    };
                    self.bad |= self.kind.is_none();
                    self.buf.clear();
                }
                Ok(b) if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' => {
                    self.bad |= self.buf.push(char::from(b)).is_err();
                }
                Ok(_) | Err(nb::Error::Other(_)) => self.bad = true,
                Err(nb::Error::WouldBlock) => return None,
            }
        }
        None
    }

    fn end_line(&mut self) -> Option<CardLine> {
        let bad = core::mem::take(&mut self.bad);
        let id = core::mem::take(&mut self.buf);
        let kind = self.kind.take();
        match (bad, id.is_empty(), kind) {
            (true, _, _) | (false, true, Some(_)) => Some(CardLine::Garbled),
            (false, true, None) => None,
            (false, false, k) => Some(CardLine::Read(k.unwrap_or(CredKind::Card), id)),
        }
    }
}

/// Cards that may open the door, at most `N`.
#[derive(Debug, Clone, Default)]
pub struct AllowList<const N: usize>(heapless::Vec<CardId, N>);

impl<const N: usize> AllowList<N> {
    /// The list of `ids`.
    ///
    /// # Errors
    /// The first id that is empty, too long or has a forbidden character, or
    /// that does not fit in `N`.
    pub fn from_ids<'a>(ids: &[&'a str]) -> Result<Self, &'a str> {
        let mut list = heapless::Vec::new();
        for &id in ids {
            let ok = protocol::ident::check(id, CARD_ID_LEN).is_ok();
            let card = CardId::try_from(id).map_err(|()| id)?;
            if !ok || list.push(card).is_err() {
                return Err(id);
            }
        }
        Ok(Self(list))
    }

    /// Whether `id` may open the door.
    pub fn allows(&self, id: &str) -> bool {
        self.0.iter().any(|c| c.as_str() == id)
    }
}

#[cfg(test)]
mod tests {
    use embedded_hal_mock::eh1::serial::{Mock, Transaction as Tx};
    use embedded_hal_nb::serial::ErrorKind;

    use super::*;

    fn lines(bytes: &[Tx<u8>]) -> Vec<CardLine> {
        let mut rx = Mock::new(bytes);
        let mut reader = LineReader::default();
        let mut budget = 64;
        let out = core::iter::from_fn(|| reader.poll(&mut rx, &mut budget)).collect();
        rx.done();
        out
    }

    fn card(s: &str) -> CardLine {
        CardLine::Read(CredKind::Card, CardId::try_from(s).unwrap())
    }

    #[test]
    fn a_kind_prefix_names_pins_and_qr_codes() {
        let got = lines(&[
            Tx::read_many(b"P:4711\nQ:v-17\nC:c1\nX:1\nP:\nAB:C\n"),
            Tx::read_error(nb::Error::WouldBlock),
        ]);
        let read = |k, s: &str| CardLine::Read(k, CardId::try_from(s).unwrap());
        assert_eq!(
            got,
            vec![
                read(CredKind::Pin, "4711"),
                read(CredKind::Qr, "v-17"),
                read(CredKind::Card, "c1"),
                CardLine::Garbled,
                CardLine::Garbled,
                CardLine::Garbled,
            ]
        );
    }

    #[test]
    fn reads_crlf_terminated_ids_and_skips_blank_lines() {
        let got = lines(&[
            Tx::read_many(b"\r\nAB-12\r\n\nC_3\n"),
            Tx::read_error(nb::Error::WouldBlock),
        ]);
        assert_eq!(got, vec![card("AB-12"), card("C_3")]);
    }

    #[test]
    fn a_partial_line_waits_for_its_newline() {
        let mut rx = Mock::new(&[
            Tx::read_many(b"AB"),
            Tx::read_error(nb::Error::WouldBlock),
            Tx::read_many(b"C\n"),
        ]);
        let mut reader = LineReader::default();
        assert_eq!(reader.poll(&mut rx, &mut 64), None);
        assert_eq!(reader.poll(&mut rx, &mut 64), Some(card("ABC")));
        rx.done();
    }

    #[test]
    fn overlong_bad_chars_and_serial_errors_garble_the_line() {
        let long = [b'9'; CARD_ID_LEN + 1];
        let got = lines(&[
            Tx::read_many(long),
            Tx::read(b'\n'),
            Tx::read_many(b"A B\n"),
            Tx::read(b'X'),
            Tx::read_error(nb::Error::Other(ErrorKind::Parity)),
            Tx::read_many(b"Y\nOK\n"),
            Tx::read_error(nb::Error::WouldBlock),
        ]);
        assert_eq!(
            got,
            vec![
                CardLine::Garbled,
                CardLine::Garbled,
                CardLine::Garbled,
                card("OK")
            ]
        );
    }

    #[test]
    fn the_byte_budget_bounds_one_poll() {
        let mut rx = Mock::new(&[Tx::read_many(b"ABCD\n")]);
        let mut reader = LineReader::default();
        let mut budget = 3;
        assert_eq!(reader.poll(&mut rx, &mut budget), None);
        assert_eq!(budget, 0);
        assert_eq!(reader.poll(&mut rx, &mut 10), Some(card("ABCD")));
        rx.done();
    }

    #[test]
    fn allow_list_checks_ids() {
        let list: AllowList<2> = AllowList::from_ids(&["A1", "B2"]).unwrap();
        assert!(list.allows("A1") && !list.allows("C3"));
        assert_eq!(AllowList::<1>::from_ids(&["A1", "B2"]).unwrap_err(), "B2");
        assert_eq!(AllowList::<2>::from_ids(&["bad id"]).unwrap_err(), "bad id");
        assert_eq!(AllowList::<2>::from_ids(&[""]).unwrap_err(), "");
    }
}
