//! Game rules as pure functions: slots (`slot`), European roulette and punto banco baccarat.
//! No actor, clock or I/O here, so live play, the exact RTP calculator and the simulator all
//! run the very same code. [`GameCatalog`] holds the slot games loaded at start-up.

pub mod baccarat;
pub mod roulette;
pub mod slot;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use slot::{SlotConfigError, SlotGame};

#[derive(Clone, Default)]
pub struct GameCatalog {
    slots: BTreeMap<String, Arc<SlotGame>>,
}

impl GameCatalog {
    pub fn load(dir: &Path) -> Result<Self, SlotConfigError> {
        Ok(Self::of(SlotGame::load_dir(dir)?))
    }

    fn of(games: Vec<SlotGame>) -> Self {
        Self {
            slots: games
                .into_iter()
                .map(|g| (g.id().to_string(), Arc::new(g)))
                .collect(),
        }
    }

    /// The catalog of these game files (`(file name, text)`), as [`GameCatalog::load`] reads
    /// a directory.
    pub fn from_files(files: &[(String, String)]) -> Result<Self, SlotConfigError> {
        Ok(Self::of(SlotGame::from_files(files)?))
    }

    pub fn slot(&self, id: &str) -> Option<&Arc<SlotGame>> {
        self.slots.get(id)
    }

    pub fn slots(&self) -> impl Iterator<Item = &Arc<SlotGame>> {
        self.slots.values()
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}
