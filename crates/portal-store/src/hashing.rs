//! argon2id passcode hashing, with a counter of verifications so tests can see the cost paid.

use std::sync::atomic::{AtomicU64, Ordering};

use std::cell::RefCell;

use argon2::password_hash::PasswordHasher;
use argon2::password_hash::phc::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use portal_core::Passcode;

use crate::error::{Result, StoreError};

/// argon2id cost parameters for new hashes. Existing hashes keep the parameters written in their PHC string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB (argon2 `m`).
    pub memory_kib: u32,
    /// Passes over memory (argon2 `t`).
    pub iterations: u32,
    /// Lanes (argon2 `p`).
    pub parallelism: u32,
}

impl Default for HashParams {
    /// The argon2 crate's defaults (m = 19 MiB, t = 2, p = 1), the OWASP recommendation.
    fn default() -> Self {
        HashParams {
            memory_kib: Params::DEFAULT_M_COST,
            iterations: Params::DEFAULT_T_COST,
            parallelism: Params::DEFAULT_P_COST,
        }
    }
}

impl HashParams {
    /// A cheap setting (1 MiB, one pass) for tests and benchmarks that measure something else. Never in production.
    pub fn low_cost_for_tests() -> Self {
        HashParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        }
    }
}

/// Hashes and verifies passcodes; counts verifications.
pub(crate) struct Hasher {
    argon2: Argon2<'static>,
    verifications: AtomicU64,
}

impl Hasher {
    pub(crate) fn new(params: HashParams) -> Result<Hasher> {
        let params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| StoreError::Hash(e.to_string()))?;
        Ok(Hasher {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            verifications: AtomicU64::new(0),
        })
    }

    /// A PHC string with a fresh salt from the OS generator.
    pub(crate) fn hash(&self, passcode: &Passcode) -> Result<String> {
        self.hash_bytes(passcode.expose().as_bytes())
    }

    pub(crate) fn hash_bytes(&self, secret: &[u8]) -> Result<String> {
        let hash: PasswordHash = self
            .argon2
            .hash_password(secret)
            .map_err(|e| StoreError::Hash(e.to_string()))?;
        Ok(hash.to_string())
    }

    /// True when `secret` matches `phc`. An unparsable stored hash never matches (and still costs a verification
    /// against `fallback`, so the time does not tell).
    pub(crate) fn verify(&self, secret: &[u8], phc: &str, fallback: &str) -> bool {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        match PasswordHash::new(phc) {
            Ok(parsed) => matches_hash(secret, &parsed),
            Err(_) => {
                // Same work for an unreadable hash as for a real one.
                if let Ok(parsed) = PasswordHash::new(fallback) {
                    let _ = matches_hash(secret, &parsed);
                }
                false
            }
        }
    }

    pub(crate) fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }
}

thread_local! {
    /// argon2's working memory (19 MiB at the default cost), kept per thread and reused. Allocating it for every
    /// verification made the allocator keep about one such block per call: a server's memory grew with every
    /// login. The store's work runs on a fixed pool of threads, so this bounds it to one block per thread.
    static WORKING_MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Whether `secret` hashes to `hash` under the hash's own algorithm, version and cost, compared in constant time.
fn matches_hash(secret: &[u8], hash: &PasswordHash) -> bool {
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(hash.algorithm.as_str()),
        Params::try_from(hash),
        hash.salt.as_ref(),
        hash.hash.as_ref(),
    ) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from) {
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
        None => Version::default(),
    };
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let mut output = [0u8; 64];
    let Some(output) = output.get_mut(..expected.len()) else {
        return false;
    };
    let hashed = WORKING_MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        let blocks = params.block_count();
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        argon2.hash_password_into_with_memory(secret, salt, output, &mut memory[..blocks])
    });
    // Output's equality is constant-time.
    hashed.is_ok() && Output::new(output).is_ok_and(|computed| &computed == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_argon2id_phc_and_verifies() {
        let hasher = Hasher::new(HashParams::low_cost_for_tests()).unwrap();
        let passcode = Passcode::parse("4826153").unwrap();
        let phc = hasher.hash(&passcode).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{phc}");
        assert!(!phc.contains("4826153"));
        assert!(hasher.verify(b"4826153", &phc, &phc));
        assert!(!hasher.verify(b"4826154", &phc, &phc));
        assert!(!hasher.verify(b"4826153", "garbage", &phc));
        assert_eq!(hasher.verifications(), 3);
        let again = hasher.hash(&passcode).unwrap();
        assert_ne!(phc, again, "each hash gets its own salt");
    }

    #[test]
    fn default_params_are_the_argon2_defaults() {
        let hasher = Hasher::new(HashParams::default()).unwrap();
        let phc = hasher.hash_bytes(b"1").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    }

    #[test]
    fn verification_reads_the_cost_from_each_hash_and_agrees_with_argon2() {
        // A hash made at another cost (an older policy) still verifies, with the reused working memory
        // growing for it; and every answer is the one argon2's own verifier gives.
        use argon2::password_hash::PasswordVerifier;
        let cheap = Hasher::new(HashParams::low_cost_for_tests()).unwrap();
        let costlier = Hasher::new(HashParams {
            memory_kib: 4096,
            iterations: 2,
            parallelism: 2,
        })
        .unwrap();
        let hashes = [
            cheap.hash_bytes(b"1357924").unwrap(),
            costlier.hash_bytes(b"1357924").unwrap(),
        ];
        for phc in &hashes {
            for candidate in [&b"1357924"[..], b"1357925", b"", b"42"] {
                let reference = Argon2::default()
                    .verify_password(candidate, &PasswordHash::new(phc).unwrap())
                    .is_ok();
                assert_eq!(cheap.verify(candidate, phc, phc), reference, "{phc}");
                assert_eq!(reference, candidate == b"1357924");
            }
        }
        // A hash whose output was altered does not verify.
        let mut altered = hashes[0].clone();
        let last = altered.pop().unwrap();
        altered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(!cheap.verify(b"1357924", &altered, &hashes[0]));
    }
}
