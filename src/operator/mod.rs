//! Operators (casino brands) as data: `config/operators.toml` read into an [`Operators`]
//! registry. Each operator owns its players (their account keys are `<operator>:<player>`),
//! names the currencies it may use, its wallet mode and its jurisdiction profile, and holds
//! up to two API keys, stored only as SHA-256 hashes ([`keys`]). The back-office routes that
//! use them are in `server::operator_api`.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use crate::ids::OperatorId;
use crate::money::{Currency, CurrencyTable};
use croupier_core::jurisdiction::Profiles;

pub mod keys;

use keys::KeyHash;

/// Most operators one deployment serves: each is checked on every key lookup.
pub const MAX_OPERATORS: usize = 1_000;
/// Keys active at once per operator: the current one and the one being rotated out.
pub const MAX_KEYS: usize = 2;
/// Highest per-operator request rate a file may set (requests per second, one node).
pub const MAX_REQUESTS_PER_SECOND: u32 = 100_000;
/// The request rate of an operator that sets none (per node).
const DEFAULT_REQUESTS_PER_SECOND: u32 = 200;

/// Where an operator's players keep their money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WalletMode {
    /// croupier's ledger holds the balance; money enters and leaves through the operator API.
    Transfer,
    /// The operator's wallet holds it, called for every bet and win (not available yet).
    Seamless,
}

/// One operator, checked.
#[derive(Debug)]
pub struct Operator {
    pub id: OperatorId,
    /// The currencies its players may hold (codes of the node's currency table).
    pub currencies: Vec<Currency>,
    pub wallet: WalletMode,
    pub jurisdiction: String,
    pub requests_per_second: u32,
    /// Its players' slot rounds are provably fair (docs/fairness.md).
    pub provably_fair: bool,
    key_hashes: Vec<KeyHash>,
}

impl Operator {
    /// The currency `code` if this operator may use it.
    pub fn currency(&self, code: &str) -> Option<&Currency> {
        self.currencies.iter().find(|c| c.code() == code)
    }
}

/// A key of the file is wrong: which, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct OperatorsError {
    pub key: String,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    operator: Vec<RawOperator>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOperator {
    id: String,
    currencies: Vec<String>,
    wallet: WalletMode,
    jurisdiction: String,
    key_hashes: Vec<String>,
    requests_per_second: Option<u32>,
    #[serde(default)]
    provably_fair: bool,
}

/// Every operator of the deployment; cheap to share.
#[derive(Debug, Clone, Default)]
pub struct Operators {
    all: Arc<Vec<Arc<Operator>>>,
}

impl Operators {
    /// Reads and checks an operators file; an empty path is a deployment with no operators.
    /// Each operator's jurisdiction must be one of `profiles`.
    pub fn load(
        path: &Path,
        currencies: &CurrencyTable,
        profiles: &Profiles,
    ) -> Result<Operators, OperatorsError> {
        if path.as_os_str().is_empty() {
            return Ok(Operators::default());
        }
        let text = croupier_core::data::read_data_file(path)
            .map_err(|(key, message)| OperatorsError { key, message })?;
        Self::parse(&text, currencies, profiles)
    }

    pub fn parse(
        text: &str,
        currencies: &CurrencyTable,
        profiles: &Profiles,
    ) -> Result<Operators, OperatorsError> {
        let raw: RawFile = croupier_core::data::toml_with_key(text)
            .map_err(|(key, message)| OperatorsError { key, message })?;
        if raw.operator.len() > MAX_OPERATORS {
            return Err(OperatorsError {
                key: "operator".into(),
                message: format!("at most {MAX_OPERATORS} operators"),
            });
        }
        let mut ids = BTreeSet::new();
        let mut hashes = BTreeSet::new();
        let mut all = Vec::with_capacity(raw.operator.len());
        for (i, op) in raw.operator.into_iter().enumerate() {
            let fail = |key: &str, message: String| OperatorsError {
                key: format!("operator[{i}].{key}"),
                message,
            };
            let id = OperatorId::parse(&op.id).map_err(|e| fail("id", e.to_string()))?;
            if !ids.insert(id.clone()) {
                return Err(fail("id", format!("{id} is listed twice")));
            }
            if op.currencies.is_empty() {
                return Err(fail("currencies", "name at least one currency".into()));
            }
            let mut own = Vec::new();
            for (j, code) in op.currencies.iter().enumerate() {
                let currency = currencies
                    .get(code)
                    .map_err(|e| fail(&format!("currencies[{j}]"), e.to_string()))?;
                if own.iter().any(|c: &Currency| c.code() == currency.code()) {
                    return Err(fail(
                        &format!("currencies[{j}]"),
                        format!("{code} is listed twice"),
                    ));
                }
                own.push(currency);
            }
            if op.wallet == WalletMode::Seamless {
                return Err(fail(
                    "wallet",
                    "seamless wallets are not available in this version; use \"transfer\"".into(),
                ));
            }
            if profiles.get(&op.jurisdiction).is_none() {
                return Err(fail(
                    "jurisdiction",
                    format!(
                        "unknown profile {:?} (jurisdictions file: {})",
                        op.jurisdiction,
                        profiles.ids().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            if op.key_hashes.is_empty() || op.key_hashes.len() > MAX_KEYS {
                return Err(fail(
                    "key_hashes",
                    format!(
                        "give 1 to {MAX_KEYS} hashes (two while a key is rotated); \
                         `croupier operator-key --operator {id}` makes a key and its hash"
                    ),
                ));
            }
            let mut key_hashes = Vec::new();
            for (j, text) in op.key_hashes.iter().enumerate() {
                let key = format!("key_hashes[{j}]");
                let hash = KeyHash::parse(text).map_err(|m| fail(&key, m))?;
                if !hashes.insert(hash.clone()) {
                    return Err(fail(&key, "the same key hash is listed twice".into()));
                }
                key_hashes.push(hash);
            }
            let requests_per_second = op
                .requests_per_second
                .unwrap_or(DEFAULT_REQUESTS_PER_SECOND);
            if !(1..=MAX_REQUESTS_PER_SECOND).contains(&requests_per_second) {
                return Err(fail(
                    "requests_per_second",
                    format!(
                        "must be between 1 and {MAX_REQUESTS_PER_SECOND}, got {requests_per_second}"
                    ),
                ));
            }
            all.push(Arc::new(Operator {
                id,
                currencies: own,
                wallet: op.wallet,
                jurisdiction: op.jurisdiction,
                requests_per_second,
                provably_fair: op.provably_fair,
                key_hashes,
            }));
        }
        Ok(Operators { all: Arc::new(all) })
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Operator>> {
        self.all.iter()
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Operator>> {
        self.all.iter().find(|o| o.id.as_str() == id)
    }

    /// The operator whose key this is. The key's hash is compared with every stored hash in
    /// constant time and without stopping at a match, so neither which operator nor how much
    /// of a hash matched shows in the time taken.
    pub fn authenticate(&self, key: &str) -> Option<&Arc<Operator>> {
        if key.is_empty() {
            return None;
        }
        let given = KeyHash::of(key);
        let mut found = None;
        for operator in self.all.iter() {
            for stored in &operator.key_hashes {
                if stored.matches(&given) {
                    found = Some(operator);
                }
            }
        }
        found
    }
}

#[cfg(test)]
mod tests;
