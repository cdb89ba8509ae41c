//! The version of the play configuration in force: a content hash of every file that decides
//! what is played and how (the games directory, tables, jackpots, operators, jurisdictions).
//! Nodes that run the same files report the same version (`/v1/cluster`, the start-up log,
//! `croupier_config_info`), so a node left on other files is seen (`CroupierConfigMismatch`).
//! The main config (ports, pools, limits) is left out: it may rightly differ per node.

use std::path::Path;

use sha2::{Digest, Sha256};

/// Hex digits of the version shown: 64 bits, ample to tell the files of one deployment apart.
pub const VERSION_HEX_LEN: usize = 16;

/// The version of these named contents: SHA-256 over each name and content, length-prefixed
/// (so no two different sets hash alike by shifting bytes between entries), in name order.
pub fn version_of(files: &mut [(String, Vec<u8>)]) -> String {
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut hash = Sha256::new();
    for (name, bytes) in files.iter() {
        hash.update((name.len() as u64).to_be_bytes());
        hash.update(name.as_bytes());
        hash.update((bytes.len() as u64).to_be_bytes());
        hash.update(bytes);
    }
    let mut hex = hex::encode(hash.finalize());
    hex.truncate(VERSION_HEX_LEN);
    hex
}

/// The version of the files `config` names, read as they are now. A file the config leaves
/// unset (an empty path) counts as absent; one that cannot be read is an error.
pub fn of(config: &crate::config::Config) -> std::io::Result<String> {
    let mut files = Vec::new();
    let dir = &config.games.dir;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            files.push((
                format!("games/{}", name.unwrap_or_default()),
                std::fs::read(&path)?,
            ));
        }
    }
    for (name, path) in [
        ("tables", &config.tables.file),
        ("jackpots", &config.jackpots.file),
        ("operators", &config.operators.file),
        ("jurisdictions", &config.jurisdictions.file),
    ] {
        if !path.as_os_str().is_empty() {
            files.push((name.to_string(), read(path)?));
        }
    }
    Ok(version_of(&mut files))
}

fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        list.iter()
            .map(|(n, c)| (n.to_string(), c.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn the_version_depends_on_every_name_and_byte_and_not_on_order() {
        let base = version_of(&mut files(&[("games/a.toml", "x = 1"), ("tables", "t")]));
        assert_eq!(base.len(), VERSION_HEX_LEN);
        assert!(base.bytes().all(|b| b.is_ascii_hexdigit()));
        let reordered = version_of(&mut files(&[("tables", "t"), ("games/a.toml", "x = 1")]));
        assert_eq!(base, reordered);
        for other in [
            files(&[("games/a.toml", "x = 2"), ("tables", "t")]),
            files(&[("games/b.toml", "x = 1"), ("tables", "t")]),
            files(&[("games/a.toml", "x = 1")]),
            // Bytes moved from one entry to the next.
            files(&[("games/a.toml", "x = 1t"), ("tables", "")]),
        ] {
            assert_ne!(base, version_of(&mut other.clone()), "{other:?}");
        }
    }
}
