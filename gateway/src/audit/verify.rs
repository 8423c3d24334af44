//! Walking the chain (`gridsense audit verify`): a [`Walker`] is fed the
//! stored records in `seq` order and stops at the first broken link.

use super::chain::{Hash, canonical, hex, link};

/// A chain that checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Records walked.
    pub records: u64,
    /// The last record's hash (all zeros for an empty chain): write it down
    /// somewhere else, and a rewrite of the whole chain is found too.
    pub head: Hash,
}

/// The first broken link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// The record where the chain breaks.
    pub seq: i64,
    /// What is wrong with it.
    pub reason: String,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "record {}: {}", self.seq, self.reason)
    }
}

/// One stored record as raw column values, before anything is trusted.
#[derive(Debug, Clone, Copy)]
pub struct RawRecord<'a> {
    /// `seq` column.
    pub seq: i64,
    /// `at` column, if it is an integer.
    pub at: Option<i64>,
    /// `kind` column bytes.
    pub kind: &'a [u8],
    /// `subject` column bytes.
    pub subject: &'a [u8],
    /// `body` column bytes.
    pub body: &'a [u8],
    /// `prev` column.
    pub prev: Hash,
    /// `hash` column.
    pub hash: Hash,
}

/// Checks each link in turn: `seq` dense from 1, `prev` equal to the
/// previous record's hash, `hash` recomputed.
#[derive(Debug, Clone)]
pub struct Walker {
    expect_seq: i64,
    prev: Hash,
    records: u64,
}

impl Default for Walker {
    fn default() -> Self {
        Self {
            expect_seq: 1,
            prev: [0; 32],
            records: 0,
        }
    }
}

impl Walker {
    /// Checks the next record.
    ///
    /// # Errors
    /// [`Broken`] at the first record that does not link.
    pub fn step(&mut self, r: &RawRecord<'_>) -> Result<(), Broken> {
        let broken = |reason: String| Err(Broken { seq: r.seq, reason });
        if r.seq != self.expect_seq {
            return broken(format!(
                "expected record {} here (removed or renumbered)",
                self.expect_seq
            ));
        }
        let Some(at) = r.at else {
            return broken("`at` is not an integer".into());
        };
        if r.prev != self.prev {
            return broken("`prev` is not the previous record's hash".into());
        }
        let at = u64::try_from(at).unwrap_or_default();
        let hash = link(&self.prev, &canonical(r.seq, at, r.kind, r.subject, r.body));
        if hash != r.hash {
            return broken(format!(
                "content does not match its hash (stored {}, computed {})",
                hex(&r.hash),
                hex(&hash)
            ));
        }
        self.prev = hash;
        self.expect_seq += 1;
        self.records += 1;
        Ok(())
    }

    /// What was walked.
    pub fn finish(self) -> Verified {
        Verified {
            records: self.records,
            head: self.prev,
        }
    }
}
