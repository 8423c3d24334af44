//! The five-level governance tree (city → district → street → community →
//! grid cell) and the escalation tiers that follow it.

use serde::{Deserialize, Serialize};

use crate::ident::Name;
use crate::kinds::wire_enum;

/// Where a device or ticket belongs in the governance tree.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GridPath {
    /// City (Foshan).
    pub city: Name,
    /// District (Chancheng).
    pub district: Name,
    /// Street or town.
    pub street: Name,
    /// Community or village.
    pub community: Name,
    /// Grid cell: the unit a grid worker is responsible for.
    pub cell: Name,
}

wire_enum! {
    /// Who handles a ticket: "small problems do not leave the grid, big
    /// problems do not leave the community, complex problems do not leave the street".
    pub enum Tier {
        /// The grid cell's own workers.
        Grid = "grid",
        /// The community's workstation.
        Community = "community",
        /// The street's command sub-centre.
        Street = "street",
    }
}

impl Tier {
    /// The next tier up, or `None` at the street (the top a gateway escalates to).
    pub const fn up(self) -> Option<Self> {
        match self {
            Self::Grid => Some(Self::Community),
            Self::Community => Some(Self::Street),
            Self::Street => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escalation_climbs_grid_community_street() {
        assert_eq!(Tier::Grid.up(), Some(Tier::Community));
        assert_eq!(Tier::Community.up(), Some(Tier::Street));
        assert_eq!(Tier::Street.up(), None);
    }
}
