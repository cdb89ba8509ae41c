//! The play files as one value: every file that decides what is played and how (the games
//! directory, tables, jackpots, operators, jurisdictions), read together, named and versioned
//! together. Its version (a content hash) is what `/v1/cluster`, the start-up log and
//! `croupier_config_info` report, so a node left on other files is seen
//! (`CroupierConfigMismatch`). In a cluster the bundle itself travels through Redis
//! (`play::shared`), so every node plays the same files. The main config (ports, pools,
//! limits) is left out: it may rightly differ per node.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::PlayError;

/// Hex digits of the version shown: 64 bits, ample to tell the files of one deployment apart.
pub const VERSION_HEX_LEN: usize = 16;

/// Largest bundle taken, all files together: the shipped files total about 30 KB, and a
/// bundle rides whole in one Redis value and one reload request's memory.
pub const MAX_BUNDLE_BYTES: usize = 4 << 20;

/// Game files one bundle may hold (each is parsed and analysed at every reload).
pub const MAX_GAME_FILES: usize = 256;

/// The play files by name: `games/<file>.toml`, `tables`, `jackpots`, `operators`,
/// `jurisdictions` (a file the config leaves unset is absent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    files: BTreeMap<String, String>,
}

/// The name of the game file `file` in a bundle.
pub const GAMES_PREFIX: &str = "games/";

impl Bundle {
    /// The files `config` names, read as they are now. A file the config leaves unset (an
    /// empty path) is absent; one that cannot be read, or is not UTF-8, is an error.
    pub fn read(config: &crate::config::Config) -> Result<Bundle, PlayError> {
        let dir = &config.games.dir;
        let mut files = BTreeMap::new();
        let unreadable = |path: &Path, e: std::io::Error| PlayError {
            file: path.display().to_string(),
            message: format!("cannot read: {e}"),
        };
        let entries = std::fs::read_dir(dir).map_err(|e| unreadable(dir, e))?;
        for entry in entries {
            let path = entry.map_err(|e| unreadable(dir, e))?.path();
            if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                let text = std::fs::read_to_string(&path).map_err(|e| unreadable(&path, e))?;
                files.insert(format!("{GAMES_PREFIX}{}", name.unwrap_or_default()), text);
            }
        }
        for (name, path) in [
            ("tables", &config.tables.file),
            ("jackpots", &config.jackpots.file),
            ("operators", &config.operators.file),
            ("jurisdictions", &config.jurisdictions.file),
        ] {
            if !path.as_os_str().is_empty() {
                let text = std::fs::read_to_string(path).map_err(|e| unreadable(path, e))?;
                files.insert(name.to_string(), text);
            }
        }
        let bundle = Bundle { files };
        bundle.check_size()?;
        Ok(bundle)
    }

    /// A bundle of these files, as named above (tests, and bundles read back from Redis).
    pub fn from_files(files: BTreeMap<String, String>) -> Result<Bundle, PlayError> {
        let bundle = Bundle { files };
        bundle.check_size()?;
        Ok(bundle)
    }

    fn check_size(&self) -> Result<(), PlayError> {
        let bytes: usize = self.files.iter().map(|(n, t)| n.len() + t.len()).sum();
        if bytes > MAX_BUNDLE_BYTES {
            return Err(PlayError::new(
                "play files",
                format!("{bytes} bytes in all, more than the {MAX_BUNDLE_BYTES} taken"),
            ));
        }
        if self.game_files().len() > MAX_GAME_FILES {
            return Err(PlayError::new(
                "games",
                format!("more than {MAX_GAME_FILES} game files"),
            ));
        }
        Ok(())
    }

    /// The game files, as `(file name, text)` in name order.
    pub fn game_files(&self) -> Vec<(String, String)> {
        self.files
            .iter()
            .filter_map(|(name, text)| {
                let file = name.strip_prefix(GAMES_PREFIX)?;
                Some((file.to_string(), text.clone()))
            })
            .collect()
    }

    /// One of the other files (`tables`, `jackpots`, `operators`, `jurisdictions`).
    pub fn file(&self, name: &str) -> Option<&str> {
        self.files.get(name).map(String::as_str)
    }

    /// The bundle's version: SHA-256 over each name and content, length-prefixed (so no two
    /// different bundles hash alike by shifting bytes between entries), in name order.
    pub fn version(&self) -> String {
        let mut hash = Sha256::new();
        for (name, text) in &self.files {
            hash.update((name.len() as u64).to_be_bytes());
            hash.update(name.as_bytes());
            hash.update((text.len() as u64).to_be_bytes());
            hash.update(text.as_bytes());
        }
        let mut hex = hex::encode(hash.finalize());
        hex.truncate(VERSION_HEX_LEN);
        hex
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(files: &[(&str, &str)]) -> Bundle {
        let files = files
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        Bundle::from_files(files).unwrap()
    }

    #[test]
    fn the_version_depends_on_every_name_and_byte_not_on_order() {
        let a = bundle(&[("games/a.toml", "x"), ("tables", "y")]);
        let b = bundle(&[("tables", "y"), ("games/a.toml", "x")]);
        assert_eq!(a.version(), b.version(), "order does not matter");
        assert_eq!(a.version().len(), VERSION_HEX_LEN);
        // The same bytes split differently between names, or under another name, differ.
        let shifted = bundle(&[("games/a.toml", "xt"), ("ables", "y")]);
        assert_ne!(a.version(), shifted.version());
        let renamed = bundle(&[("games/b.toml", "x"), ("tables", "y")]);
        assert_ne!(a.version(), renamed.version());
        let edited = bundle(&[("games/a.toml", "x "), ("tables", "y")]);
        assert_ne!(a.version(), edited.version());
    }

    #[test]
    fn game_files_are_told_from_the_others() {
        let b = bundle(&[("games/a.toml", "x"), ("tables", "y")]);
        assert_eq!(
            b.game_files(),
            vec![("a.toml".to_string(), "x".to_string())]
        );
        assert_eq!(b.file("tables"), Some("y"));
        assert_eq!(b.file("jackpots"), None);
    }

    #[test]
    fn an_oversized_bundle_is_refused() {
        let big = "x".repeat(MAX_BUNDLE_BYTES + 1);
        let files = [("tables".to_string(), big)].into_iter().collect();
        let error = Bundle::from_files(files).unwrap_err();
        assert!(error.to_string().contains("more than"), "{error}");
    }
}
