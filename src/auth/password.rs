//! Argon2id password hashes in PHC string form, computed under a concurrency bound.
//!
//! Argon2 is memory-hard: each hash or verification holds its whole memory cost (19 MiB with
//! the default parameters) while it runs. Unbounded, a burst of logins costs that much per
//! request at once, and the allocator keeps most of it afterwards; [`Passwords`] lets only a
//! few run at a time, so the peak stays a few times 19 MiB whatever the burst.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult};

fn hash_now(password: &str) -> AppResult<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(AppError::internal)
}

/// True when `password` matches `phc`. A malformed stored hash never matches.
fn verify_now(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

/// Runs hashes and verifications on the blocking pool, at most `permits` at once; the rest
/// wait their turn.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    running: Arc<AtomicUsize>,
    most_running: Arc<AtomicUsize>,
}

impl Passwords {
    /// `concurrency` 0 means one per CPU core, at most 4.
    pub fn new(concurrency: usize) -> Self {
        let n = match concurrency {
            0 => std::thread::available_parallelism().map_or(1, usize::from).min(4),
            n => n,
        };
        Self { permits: Arc::new(Semaphore::new(n)), running: Arc::default(), most_running: Arc::default() }
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        let (running, most) = (self.running.clone(), self.most_running.clone());
        tokio::task::spawn_blocking(move || {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            let out = work();
            running.fetch_sub(1, Ordering::SeqCst);
            out
        })
        .await
        .map_err(AppError::internal)
    }

    pub async fn hash(&self, password: String) -> AppResult<String> {
        self.run(move || hash_now(&password)).await?
    }

    pub async fn verify(&self, password: String, phc: String) -> AppResult<bool> {
        self.run(move || verify_now(&password, &phc)).await
    }

    /// Spends the time of one verification, so that an unknown user name answers as slowly as
    /// a wrong password and login timing does not reveal which user names exist.
    pub async fn verify_against_nothing(&self, password: String) -> AppResult<()> {
        static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        self.run(move || {
            let phc = DUMMY.get_or_init(|| hash_now("not-a-real-password").unwrap_or_default());
            let _ = verify_now(&password, phc);
        })
        .await
    }

    /// The most hashes that ever ran at once.
    pub fn most_running(&self) -> usize {
        self.most_running.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() {
        let p = Passwords::new(1);
        let h = p.hash("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(p.verify("correct horse".into(), h.clone()).await.unwrap());
        assert!(!p.verify("wrong horse".into(), h).await.unwrap());
        assert!(!p.verify("correct horse".into(), "garbage".into()).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_burst_runs_at_most_the_bound_at_once() {
        let p = Passwords::new(2);
        let phc = p.hash("the real one".into()).await.unwrap();
        let burst: Vec<_> = (0..12)
            .map(|i| {
                let (p, phc) = (p.clone(), phc.clone());
                tokio::spawn(async move { p.verify(format!("guess {i}"), phc).await })
            })
            .chain((0..4).map(|_| {
                let p = p.clone();
                tokio::spawn(async move { p.verify_against_nothing("guess".into()).await.map(|()| false) })
            }))
            .collect();
        for task in burst {
            assert!(!task.await.unwrap().unwrap());
        }
        assert!((1..=2).contains(&p.most_running()), "{} ran at once; the bound is 2", p.most_running());
    }
}
