//! `gridsense site import FILE.csv`: adds site nodes, all or nothing.
//!
//! Columns: `id, parent, level, name, city, district, street, community,
//! cell, fire_zone` (documented in `docs/site-and-devices.md`).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use protocol::Name;

use super::csvfile::{Errors, ImportError, Table};
use super::site::{self, GRID_COLUMNS, Level, SiteRow};
use crate::store::{Store, StoreError};

const COLUMNS: &[&str] = &[
    "id",
    "parent",
    "level",
    "name",
    "city",
    "district",
    "street",
    "community",
    "cell",
    "fire_zone",
];
const REQUIRED: &[&str] = &["id", "level", "name"];
/// Longest display name accepted.
const NAME_MAX: usize = 100;

/// Imports site nodes from a CSV file in one transaction; returns how many.
/// Every row is checked first (against the file and the database) and every
/// problem is reported; on any problem nothing is written.
///
/// # Errors
/// [`ImportError::Invalid`] with all problems, or an I/O or database error.
pub fn import_sites(store: &mut Store, path: &Path) -> Result<usize, ImportError> {
    let table = Table::read(path, COLUMNS, REQUIRED)?;
    let mut all = site::load_rows(store.conn())?;
    let existing = all.len();
    let mut errors = Errors::new(&table.file);
    let mut lines: HashMap<Name, u64> = HashMap::new();
    let mut new_rows = Vec::new();
    for (line, rec) in &table.rows {
        let Some(row) = parse_row(&table, rec, *line, &mut errors) else {
            continue;
        };
        if let Some(first) = lines.get(&row.id) {
            errors.push(
                *line,
                "id",
                format!("duplicate id {}, first on line {first}", row.id),
            );
        } else if all.contains_key(&row.id) {
            errors.push(
                *line,
                "id",
                format!("duplicate id {}: already in the database", row.id),
            );
        } else {
            lines.insert(row.id.clone(), *line);
            all.insert(row.id.clone(), row.clone());
            new_rows.push(row);
        }
    }
    check_tree(&all, &lines, &mut errors);
    errors.finish()?;
    write(store, &new_rows)?;
    tracing::info!(file = %table.file, added = new_rows.len(), existing, "site nodes imported");
    Ok(new_rows.len())
}

fn parse_row(
    table: &Table,
    rec: &csv::StringRecord,
    line: u64,
    errors: &mut Errors,
) -> Option<SiteRow> {
    let mut ok = true;
    let mut ident = |column: &str, required: bool| -> Option<Name> {
        let v = table.get(rec, column);
        if v.is_empty() {
            if required {
                errors.push(line, column, "is empty");
                ok = false;
            }
            return None;
        }
        Name::new(v)
            .map_err(|e| {
                errors.push(line, column, format!("bad identifier {v:?}: {e}"));
                ok = false;
            })
            .ok()
    };
    let id = ident("id", true);
    let parent = ident("parent", false);
    let grid = GRID_COLUMNS.map(|c| ident(c, false));
    let fire_zone = ident("fire_zone", false);
    let level_text = table.get(rec, "level");
    let level = Level::parse(level_text);
    if level.is_none() {
        let names: Vec<_> = Level::ALL.iter().map(|l| l.as_str()).collect();
        errors.push(
            line,
            "level",
            format!("unknown level {level_text:?}; one of {}", names.join(", ")),
        );
    }
    let name = table.get(rec, "name");
    if name.is_empty() || name.chars().count() > NAME_MAX || name.contains('/') {
        errors.push(
            line,
            "name",
            format!("must be 1 to {NAME_MAX} characters without '/'"),
        );
    }
    Some(SiteRow {
        id: id?,
        parent,
        level: level?,
        name: name.to_string(),
        grid,
        fire_zone,
    })
    .filter(|_| ok)
}

/// Checks levels against parents and that every node resolves; errors are
/// reported on the line of the row to change.
fn check_tree(all: &BTreeMap<Name, SiteRow>, lines: &HashMap<Name, u64>, errors: &mut Errors) {
    let mut by_line: Vec<_> = lines.iter().collect();
    by_line.sort_by_key(|(_, line)| **line);
    for (id, line) in by_line {
        let row = &all[id];
        if let Some(parent) = row.parent.as_ref().and_then(|p| all.get(p))
            && !row.level.fits_in(parent.level)
        {
            errors.push(
                *line,
                "level",
                format!(
                    "a {} cannot be inside a {} ({})",
                    row.level.as_str(),
                    parent.level.as_str(),
                    parent.id
                ),
            );
        }
    }
    let (_, unresolved) = site::resolve_all(all);
    for e in unresolved {
        let line = lines.get(&e.at).copied().unwrap_or(0);
        errors.push(line, e.column, e.message);
    }
}

fn write(store: &mut Store, rows: &[SiteRow]) -> Result<(), StoreError> {
    let tx = store.conn_mut().transaction()?;
    // Rows may name a parent that comes later in the file.
    tx.pragma_update(None, "defer_foreign_keys", true)?;
    for row in rows {
        site::insert_row(&tx, row)?;
    }
    tx.commit()?;
    Ok(())
}
