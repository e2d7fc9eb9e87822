//! The loom model settings shared by the model tests (`loom_pool.rs`,
//! `loom_phases.rs`), included with `#[path]` so that only they compile it.

/// Checks `f` under every interleaving up to 3 preemptions, with room for
/// 20 000 branches per execution: a spin lock that yields to its holder, or
/// a worker waiting at a phase boundary, takes a few hundred branches per
/// contended wait. `LOOM_MAX_PREEMPTIONS` / `LOOM_MAX_BRANCHES` override
/// these.
pub fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(3);
    }
    if std::env::var_os("LOOM_MAX_BRANCHES").is_none() {
        b.max_branches = 20_000;
    }
    b.check(f);
}
