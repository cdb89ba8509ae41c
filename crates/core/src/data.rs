//! Reading the data files the operator edits (tables, jackpots): TOML with errors that name
//! the key and say why, and the id rule those files share.

use std::path::Path;

/// Deserialises a data file (tables, jackpots), or says which key is wrong and why.
pub fn toml_with_key<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(toml::Deserializer::new(text))
        .map_err(|e| (e.path().to_string(), e.inner().message().to_string()))
}

/// Reads a data file; the error names the file.
pub fn read_data_file(path: &Path) -> Result<String, (String, String)> {
    std::fs::read_to_string(path)
        .map_err(|e| (path.display().to_string(), format!("cannot read: {e}")))
}

/// Ids in data files (tables, pools, levels): 1-64 characters of `a-z 0-9 _`.
pub fn is_data_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}
