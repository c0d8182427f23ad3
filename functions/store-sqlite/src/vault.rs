//! [`FileVault`]: the `Vault` port on one JSON file, for the local stack.
//!
//! Each secret name holds at most one version per stage (pending, current,
//! previous), as Secrets Manager's AWSPENDING / AWSCURRENT / AWSPREVIOUS labels do.
//! A version that loses its last stage is dropped, so the file never keeps a key
//! longer than rotation needs it.
//!
//! The file is owner-only (0600 on unix). Every change writes a new file next to it
//! and renames it into place, so a crash leaves either the old or the new file,
//! never half of one. The file is read on every call, so a key replaced by another
//! process (the admin CLI) is seen at once. Values are [`SecretString`]s in memory
//! and appear in no `Debug` output, log line or error message.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use hogwarden_core::error::Result;
use hogwarden_core::ports::{Stage, Vault};
use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::VaultError;

/// The on-disk format version, so a later layout can be told apart.
const FORMAT: u32 = 1;

/// Owner read/write only.
#[cfg(unix)]
const OWNER_ONLY: u32 = 0o600;

/// Secret names are labels such as `posthog/service-key`, never values; they are
/// bounded so that an error echoing one stays short.
const MAX_NAME_LEN: usize = 256;

/// A vault kept in one JSON file. Cheap to clone; clones share the file and lock.
#[derive(Clone)]
pub struct FileVault {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// Serialises this process's read-modify-write cycles on the file.
    lock: Mutex<()>,
}

impl std::fmt::Debug for FileVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileVault").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

impl FileVault {
    /// Opens the vault file at `path`, creating it (owner-only, empty) if missing.
    /// A file that others may read is warned about and made owner-only.
    pub fn open(path: &Path) -> Result<Self, VaultError> {
        let vault = Self { inner: Arc::new(Inner { path: path.to_owned(), lock: Mutex::new(()) }) };
        if path.exists() {
            // Reading it now reports a damaged file at start-up, not at the first rotation.
            vault.inner.load()?;
        } else {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| vault.inner.io(&e))?;
            }
            vault.inner.save(&Doc::default())?;
        }
        Ok(vault)
    }

    /// The vault file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Stores `value` as the current version of `name` (the old current becomes
    /// previous), for a first start or a key an admin replaces by hand. Storing the
    /// value that is already current changes nothing.
    pub async fn put_current(&self, name: &str, value: SecretString) -> Result<()> {
        let name = secret_name(name)?;
        self.update(move |doc| {
            let versions = doc.secrets.entry(name.clone()).or_default();
            if versions.iter().any(|v| v.stage == Stage::Current && same(&v.value, &value)) {
                return Ok(false);
            }
            versions.push(Version { id: uuid::Uuid::new_v4().to_string(), stage: Stage::Pending, value });
            let index = versions.len() - 1;
            make_current(versions, index);
            Ok(true)
        })
        .await?;
        Ok(())
    }

    /// Runs a read-modify-write of the file on the blocking pool; `change` returns
    /// whether it changed anything, and only then is the file written.
    async fn update<F>(&self, change: F) -> Result<(), VaultError>
    where
        F: FnOnce(&mut Doc) -> Result<bool, VaultError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let _guard = inner.lock.lock().unwrap_or_else(PoisonError::into_inner);
            let mut doc = inner.load()?;
            if change(&mut doc)? {
                inner.save(&doc)?;
            }
            Ok(())
        })
        .await
        .map_err(|e| VaultError::Worker(e.to_string()))?
    }
}

#[async_trait]
impl Vault for FileVault {
    async fn get(&self, name: &str, stage: Stage) -> Result<Option<SecretString>> {
        let name = secret_name(name)?;
        let inner = Arc::clone(&self.inner);
        let found = tokio::task::spawn_blocking(move || {
            let _guard = inner.lock.lock().unwrap_or_else(PoisonError::into_inner);
            let mut doc = inner.load()?;
            let versions = doc.secrets.remove(&name).unwrap_or_default();
            Ok::<_, VaultError>(versions.into_iter().find(|v| v.stage == stage).map(|v| v.value))
        })
        .await
        .map_err(|e| VaultError::Worker(e.to_string()))??;
        Ok(found)
    }

    async fn stage_pending(&self, name: &str, version_id: &str, value: SecretString) -> Result<()> {
        let name = secret_name(name)?;
        let version_id = version_name(version_id)?;
        self.update(move |doc| {
            let versions = doc.secrets.entry(name.clone()).or_default();
            if let Some(existing) = versions.iter().find(|v| v.id == version_id) {
                return if same(&existing.value, &value) {
                    Ok(false)
                } else {
                    Err(VaultError::Refused(format!(
                        "version {version_id} of secret {name} already holds a different value; stage the new value under a new version id"
                    )))
                };
            }
            // An earlier rotation that never finished loses its pending version, as
            // moving the AWSPENDING label does in Secrets Manager.
            versions.retain(|v| v.stage != Stage::Pending);
            versions.push(Version { id: version_id, stage: Stage::Pending, value });
            Ok(true)
        })
        .await?;
        Ok(())
    }

    async fn promote(&self, name: &str, version_id: &str) -> Result<()> {
        let name = secret_name(name)?;
        let version_id = version_name(version_id)?;
        self.update(move |doc| {
            let versions = doc.secrets.entry(name.clone()).or_default();
            let Some(index) = versions.iter().position(|v| v.id == version_id) else {
                return Err(VaultError::Refused(format!("secret {name} has no version {version_id}; stage it as pending first")));
            };
            if versions[index].stage == Stage::Current {
                return Ok(false);
            }
            make_current(versions, index);
            Ok(true)
        })
        .await?;
        Ok(())
    }

    async fn version(&self, name: &str, version_id: &str) -> Result<Option<(SecretString, Vec<Stage>)>> {
        let name = secret_name(name)?;
        let version_id = version_name(version_id)?;
        let inner = Arc::clone(&self.inner);
        let found = tokio::task::spawn_blocking(move || {
            let _guard = inner.lock.lock().unwrap_or_else(PoisonError::into_inner);
            let mut doc = inner.load()?;
            let versions = doc.secrets.remove(&name).unwrap_or_default();
            Ok::<_, VaultError>(versions.into_iter().find(|v| v.id == version_id).map(|v| (v.value, vec![v.stage])))
        })
        .await
        .map_err(|e| VaultError::Worker(e.to_string()))??;
        Ok(found)
    }
}

/// Makes `versions[index]` current: the current one becomes previous and the old
/// previous is dropped.
fn make_current(versions: &mut Vec<Version>, index: usize) {
    let promoted = versions.remove(index);
    versions.retain(|v| v.stage != Stage::Previous);
    for v in versions.iter_mut() {
        if v.stage == Stage::Current {
            v.stage = Stage::Previous;
        }
    }
    versions.push(Version { stage: Stage::Current, ..promoted });
}

fn same(a: &SecretString, b: &SecretString) -> bool {
    a.expose_secret() == b.expose_secret()
}

fn secret_name(raw: &str) -> Result<String, VaultError> {
    label("secret name", raw)
}

fn version_name(raw: &str) -> Result<String, VaultError> {
    label("version id", raw)
}

fn label(what: &str, raw: &str) -> Result<String, VaultError> {
    if raw.is_empty() || raw.len() > MAX_NAME_LEN || raw.chars().any(char::is_control) {
        return Err(VaultError::Refused(format!("a {what} must be 1 to {MAX_NAME_LEN} printable characters")));
    }
    Ok(raw.to_owned())
}

// ---------------------------------------------------------------- the file

/// The vault's contents in memory.
#[derive(Default)]
struct Doc {
    secrets: BTreeMap<String, Vec<Version>>,
}

struct Version {
    id: String,
    stage: Stage,
    value: SecretString,
}

/// A stage as written in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum DiskStage {
    Pending,
    Current,
    Previous,
}

impl From<Stage> for DiskStage {
    fn from(s: Stage) -> Self {
        match s {
            Stage::Pending => Self::Pending,
            Stage::Current => Self::Current,
            Stage::Previous => Self::Previous,
        }
    }
}

impl From<DiskStage> for Stage {
    fn from(s: DiskStage) -> Self {
        match s {
            DiskStage::Pending => Self::Pending,
            DiskStage::Current => Self::Current,
            DiskStage::Previous => Self::Previous,
        }
    }
}

#[derive(Deserialize)]
struct DiskDoc {
    format: u32,
    secrets: BTreeMap<String, Vec<DiskVersionIn>>,
}

#[derive(Deserialize)]
struct DiskVersionIn {
    id: String,
    stage: DiskStage,
    value: SecretString,
}

/// What is written: borrowed values, so no extra copies of a secret are made.
#[derive(Serialize)]
struct DiskDocOut<'a> {
    format: u32,
    secrets: BTreeMap<&'a str, Vec<DiskVersionOut<'a>>>,
}

#[derive(Serialize)]
struct DiskVersionOut<'a> {
    id: &'a str,
    stage: DiskStage,
    value: &'a str,
}

impl Inner {
    fn io(&self, e: &std::io::Error) -> VaultError {
        VaultError::Io { path: self.path.clone(), reason: e.to_string() }
    }

    fn malformed(&self, reason: impl Into<String>) -> VaultError {
        VaultError::Malformed { path: self.path.clone(), reason: reason.into() }
    }

    fn load(&self) -> Result<Doc, VaultError> {
        self.restrict_permissions()?;
        let mut bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            // Removed since it was opened: as good as empty; the next write recreates it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Doc::default()),
            Err(e) => return Err(self.io(&e)),
        };
        let parsed: Result<DiskDoc, _> = serde_json::from_slice(&bytes);
        bytes.zeroize();
        // serde_json's message can quote the input, which may be a key: say where only.
        let disk = parsed.map_err(|e| self.malformed(format!("{:?} error at line {}, column {}", e.classify(), e.line(), e.column())))?;
        if disk.format != FORMAT {
            return Err(self.malformed(format!("format {} is not one this Hogwarden reads (it reads {FORMAT})", disk.format)));
        }
        let mut doc = Doc::default();
        for (name, versions) in disk.secrets {
            let mut seen = Vec::new();
            for v in &versions {
                if seen.contains(&v.stage) {
                    return Err(self.malformed(format!("secret {name} has two {:?} versions", v.stage)));
                }
                seen.push(v.stage);
            }
            let versions = versions.into_iter().map(|v| Version { id: v.id, stage: v.stage.into(), value: v.value }).collect();
            doc.secrets.insert(name, versions);
        }
        Ok(doc)
    }

    /// Writes the whole document to a temporary owner-only file beside the vault,
    /// flushes it, and renames it over the vault.
    fn save(&self, doc: &Doc) -> Result<(), VaultError> {
        let out = DiskDocOut {
            format: FORMAT,
            secrets: doc
                .secrets
                .iter()
                .filter(|(_, versions)| !versions.is_empty())
                .map(|(name, versions)| {
                    let versions = versions
                        .iter()
                        .map(|v| DiskVersionOut { id: &v.id, stage: v.stage.into(), value: v.value.expose_secret() })
                        .collect();
                    (name.as_str(), versions)
                })
                .collect(),
        };
        let mut bytes = serde_json::to_vec_pretty(&out).map_err(|e| self.malformed(format!("cannot be written ({:?})", e.classify())))?;
        let written = self.write_atomically(&bytes);
        bytes.zeroize();
        written
    }

    fn write_atomically(&self, bytes: &[u8]) -> Result<(), VaultError> {
        let dir = match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        // tempfile creates the file 0600 on unix; it is set again below in case a
        // platform default differs.
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| self.io(&e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file().set_permissions(std::fs::Permissions::from_mode(OWNER_ONLY)).map_err(|e| self.io(&e))?;
        }
        tmp.write_all(bytes).map_err(|e| self.io(&e))?;
        tmp.as_file().sync_all().map_err(|e| self.io(&e))?;
        tmp.persist(&self.path).map_err(|e| self.io(&e.error))?;
        // The rename itself is durable only once the folder is flushed.
        #[cfg(unix)]
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| self.io(&e))?;
        Ok(())
    }

    /// Makes the file owner-only if it is not, with a warning: a key readable by
    /// other local users is a key that may have leaked.
    #[cfg(unix)]
    fn restrict_permissions(&self) -> Result<(), VaultError> {
        use std::os::unix::fs::PermissionsExt;
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(self.io(&e)),
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %self.path.display(),
                mode = format!("{mode:o}"),
                "vault file was readable by other users; made it owner-only (0600). Consider rotating the keys it holds"
            );
            std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(OWNER_ONLY)).map_err(|e| self.io(&e))?;
        }
        Ok(())
    }

    #[cfg(not(unix))]
    fn restrict_permissions(&self) -> Result<(), VaultError> {
        Ok(())
    }
}
