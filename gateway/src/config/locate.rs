//! Where a field of the configuration is written: a field's path
//! (`rules.thresholds[1].field`) is looked up in the file's parsed tree,
//! whose every table and value carries its span (`toml::Spanned`), so a
//! problem found after parsing still points at its line and column.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The spans of one configuration text.
#[derive(Debug)]
pub struct Locator<'a> {
    src: &'a str,
    root: Option<Spanned<DeValue<'a>>>,
}

/// One step of a field's path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step<'p> {
    Key(&'p str),
    Index(usize),
}

impl<'a> Locator<'a> {
    /// Parses `src` for its spans; text that does not parse locates nothing.
    pub fn new(src: &'a str) -> Self {
        let root = DeTable::parse(src).ok().map(|t| {
            let span = t.span();
            Spanned::new(span, DeValue::Table(t.into_inner()))
        });
        Self { src, root }
    }

    /// The 1-based line and column where `path` is written: the value of the
    /// deepest part of the path present in the file (a table's header when
    /// the rest of the path is not written, e.g. a field left at its default).
    pub fn locate(&self, path: &str) -> Option<(usize, usize)> {
        let mut at = self.root.as_ref()?;
        let mut span = None;
        for step in steps(path) {
            let next = match step {
                Step::Key(k) => at.get_ref().get(k),
                Step::Index(i) => at.get_ref().get(i),
            };
            let Some(next) = next else { break };
            at = next;
            span = Some(at.span());
        }
        span.map(|s| protocol::profile::line_col(self.src, s.start))
    }
}

/// `a.b[2].c` as steps; the first of a list (`a.x, a.y`) only.
fn steps(path: &str) -> Vec<Step<'_>> {
    let first = path.split(", ").next().unwrap_or(path);
    let mut out = Vec::new();
    for part in first.split('.') {
        let (key, mut rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if !key.is_empty() {
            out.push(Step::Key(key));
        }
        while let Some((n, r)) = rest.split_once(']') {
            if let Ok(i) = n.parse() {
                out.push(Step::Index(i));
            }
            rest = r.strip_prefix('[').unwrap_or(r);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "[gateway]\nid = \"gw01\"\nsite = \"x\"\n\n[[rules.thresholds]]\nprofile = \"a\"\nfield = \"t\"\n\n[[rules.thresholds]]\nprofile = \"b\"\nfield = \"u\"\n\n[orders]\nsupervise_every_ms = 0\n";

    #[test]
    fn paths_become_steps() {
        assert_eq!(
            steps("modbus.lines[0].devices[2].unit_id"),
            vec![
                Step::Key("modbus"),
                Step::Key("lines"),
                Step::Index(0),
                Step::Key("devices"),
                Step::Index(2),
                Step::Key("unit_id"),
            ]
        );
        assert_eq!(
            steps("uplink.username, uplink.password"),
            vec![Step::Key("uplink"), Step::Key("username")]
        );
    }

    #[test]
    fn a_table_of_an_array_is_found_at_its_header() {
        let l = Locator::new(SRC);
        assert_eq!(l.locate("rules.thresholds[1]").map(|p| p.0), Some(9));
        assert_eq!(l.locate("rules.thresholds[0]").map(|p| p.0), Some(5));
    }

    #[test]
    fn a_value_is_found_at_its_line_and_a_missing_one_at_its_table() {
        let l = Locator::new(SRC);
        assert_eq!(l.locate("rules.thresholds[1].field"), Some((11, 9)));
        assert_eq!(l.locate("orders.supervise_every_ms"), Some((14, 22)));
        assert_eq!(l.locate("gateway.profiles_dir").map(|p| p.0), Some(1));
        assert_eq!(l.locate("uplink.host"), None);
    }
}
