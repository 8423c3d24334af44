//! The compound's site tree (building → unit → floor → room, plus areas) and
//! how each node inherits its grid cell and fire zone from its ancestors.

use std::collections::BTreeMap;

use protocol::{GridPath, Name};
use rusqlite::Connection;

use crate::store::StoreError;

/// A level of the site tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// A building: a top-level node.
    Building,
    /// A unit (entrance/stairwell) of a building.
    Unit,
    /// A floor.
    Floor,
    /// A room or flat.
    Room,
    /// Any other place (car park, gate, garden, plant room): fits anywhere.
    Area,
}

impl Level {
    /// Every level, outermost first.
    pub const ALL: [Self; 5] = [
        Self::Building,
        Self::Unit,
        Self::Floor,
        Self::Room,
        Self::Area,
    ];

    /// The name used in CSV files and the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Building => "building",
            Self::Unit => "unit",
            Self::Floor => "floor",
            Self::Room => "room",
            Self::Area => "area",
        }
    }

    /// Parses a level name (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s))
    }

    /// Depth of a level in the building hierarchy; areas have none.
    const fn rank(self) -> Option<u8> {
        match self {
            Self::Building => Some(0),
            Self::Unit => Some(1),
            Self::Floor => Some(2),
            Self::Room => Some(3),
            Self::Area => None,
        }
    }

    /// Whether a node of this level may sit inside one of `parent`: deeper
    /// levels inside shallower ones; areas anywhere and anything in an area
    /// but a building.
    pub fn fits_in(self, parent: Self) -> bool {
        match (self.rank(), parent.rank()) {
            (Some(child), Some(parent)) => child > parent,
            (Some(0), None) => false,
            _ => true,
        }
    }
}

/// A site node as stored: grid columns and fire zone may be empty, meaning
/// "as my parent".
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SiteRow {
    pub(crate) id: Name,
    pub(crate) parent: Option<Name>,
    pub(crate) level: Level,
    pub(crate) name: String,
    /// City, district, street, community, cell; `None` inherits.
    pub(crate) grid: [Option<Name>; 5],
    pub(crate) fire_zone: Option<Name>,
}

/// The names of the grid columns, in [`GridPath`] order.
pub(crate) const GRID_COLUMNS: [&str; 5] = ["city", "district", "street", "community", "cell"];

/// A node of the site tree with everything inherited filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteNode {
    /// Unique id (`b3-u2-f7-r702`).
    pub id: Name,
    /// The enclosing node; `None` at the top.
    pub parent: Option<Name>,
    /// Building, unit, floor, room or area.
    pub level: Level,
    /// The name people use (`Room 702`).
    pub name: String,
    /// The grid cell responsible for this place, own or inherited.
    pub grid: GridPath,
    /// The fire zone, own or inherited; devices in one zone confirm each other.
    pub fire_zone: Option<Name>,
    /// Names from the top down: `Building 3 / Unit 2 / Floor 7 / Room 702`.
    pub label: String,
}

/// Why a node cannot be resolved, blamed on the row that must change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResolveError {
    /// The row at fault: the node with an unknown parent, the node in a
    /// cycle, or the top-level node missing grid columns.
    pub(crate) at: Name,
    /// The column at fault.
    pub(crate) column: &'static str,
    /// What is wrong.
    pub(crate) message: String,
}

/// Resolves every row; returns the nodes that resolve and the errors.
pub(crate) fn resolve_all(
    rows: &BTreeMap<Name, SiteRow>,
) -> (BTreeMap<Name, SiteNode>, Vec<ResolveError>) {
    let mut nodes = BTreeMap::new();
    let mut errors = Vec::new();
    for id in rows.keys() {
        match resolve(rows, id) {
            Ok(node) => {
                nodes.insert(id.clone(), node);
            }
            Err(e) => errors.push(e),
        }
    }
    (nodes, errors)
}

/// Walks from `id` to the top, filling inherited columns.
fn resolve(rows: &BTreeMap<Name, SiteRow>, id: &Name) -> Result<SiteNode, ResolveError> {
    let own = &rows[id];
    let mut grid = own.grid.clone();
    let mut fire_zone = own.fire_zone.clone();
    let mut names = vec![own.name.as_str()];
    let mut at = own;
    while let Some(parent) = &at.parent {
        if names.len() > rows.len() {
            return Err(ResolveError {
                at: id.clone(),
                column: "parent",
                message: format!("{id} is its own ancestor (a cycle)"),
            });
        }
        let child = &at.id;
        at = rows.get(parent).ok_or_else(|| ResolveError {
            at: child.clone(),
            column: "parent",
            message: format!("unknown parent {parent}"),
        })?;
        for (mine, theirs) in grid.iter_mut().zip(&at.grid) {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
        if fire_zone.is_none() {
            fire_zone.clone_from(&at.fire_zone);
        }
        names.push(at.name.as_str());
    }
    let missing = |i: usize| ResolveError {
        at: at.id.clone(),
        column: GRID_COLUMNS[i],
        message: format!(
            "missing grid {}: a top-level {} needs city, district, street, community and cell",
            GRID_COLUMNS[i],
            at.level.as_str()
        ),
    };
    let [city, district, street, community, cell] = grid;
    let grid = GridPath {
        city: city.ok_or_else(|| missing(0))?,
        district: district.ok_or_else(|| missing(1))?,
        street: street.ok_or_else(|| missing(2))?,
        community: community.ok_or_else(|| missing(3))?,
        cell: cell.ok_or_else(|| missing(4))?,
    };
    names.reverse();
    Ok(SiteNode {
        id: id.clone(),
        parent: own.parent.clone(),
        level: own.level,
        name: own.name.clone(),
        grid,
        fire_zone,
        label: names.join(" / "),
    })
}

/// Reads every stored site row.
pub(crate) fn load_rows(conn: &Connection) -> Result<BTreeMap<Name, SiteRow>, StoreError> {
    let mut st = conn.prepare(
        "SELECT id, parent, level, name, city, district, street, community, cell, fire_zone FROM site_nodes",
    )?;
    let raw = st.query_map([], |r| {
        let mut cols: Vec<Option<String>> = Vec::with_capacity(10);
        for i in 0..10 {
            cols.push(r.get(i)?);
        }
        Ok(cols)
    })?;
    let mut rows = BTreeMap::new();
    for cols in raw {
        let row = row_from_columns(cols?)?;
        rows.insert(row.id.clone(), row);
    }
    Ok(rows)
}

fn row_from_columns(cols: Vec<Option<String>>) -> Result<SiteRow, StoreError> {
    let name = |v: &Option<String>| -> Result<Option<Name>, StoreError> {
        v.as_deref()
            .map(|s| {
                Name::new(s).map_err(|e| StoreError::Invalid(format!("site node name {s:?} {e}")))
            })
            .transpose()
    };
    let id = name(&cols[0])?.ok_or_else(|| StoreError::Invalid("site node without id".into()))?;
    let level = cols[2]
        .as_deref()
        .and_then(Level::parse)
        .ok_or_else(|| StoreError::Invalid(format!("site node {id}: bad level")))?;
    Ok(SiteRow {
        parent: name(&cols[1])?,
        level,
        name: cols[3].clone().unwrap_or_default(),
        grid: [
            name(&cols[4])?,
            name(&cols[5])?,
            name(&cols[6])?,
            name(&cols[7])?,
            name(&cols[8])?,
        ],
        fire_zone: name(&cols[9])?,
        id,
    })
}

/// Inserts a row (inside the caller's transaction).
pub(crate) fn insert_row(conn: &Connection, row: &SiteRow) -> Result<(), StoreError> {
    let g = |i: usize| row.grid[i].as_ref().map(Name::as_str);
    conn.execute(
        "INSERT INTO site_nodes (id, parent, level, name, city, district, street, community, cell, fire_zone)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        rusqlite::params![
            row.id.as_str(),
            row.parent.as_ref().map(Name::as_str),
            row.level.as_str(),
            row.name,
            g(0),
            g(1),
            g(2),
            g(3),
            g(4),
            row.fire_zone.as_ref().map(Name::as_str),
        ],
    )?;
    Ok(())
}
