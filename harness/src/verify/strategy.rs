//! proptest strategies over verify cases: a program (seed) and a sequence of intents.
//!
//! Every intent is drawn with plain numbers for its targets, so any intent applies to any program and
//! proptest's shrinking (shorter sequences, smaller numbers) always yields a valid case. The weights favour
//! the edits users make most (bodies), then the ones invalidation can get wrong (signatures, constants,
//! global types) and faults, while every kind and configuration step keeps a real share.

use crate::program::edit::Edit;
use crate::verify::intent::{ConfigChange, Fault, Intent};
use proptest::prelude::*;
use proptest::strategy::Union;

/// One intent, weighted.
pub fn intent() -> impl Strategy<Value = Intent> {
    let n = any::<u16>;
    let edit = |weight: u32, s: BoxedStrategy<Edit>| (weight, s.prop_map(Intent::Edit).boxed());
    Union::new_weighted(vec![
        edit(18, (n(), n()).prop_map(|(function, variant)| Edit::Body { function, variant }).boxed()),
        edit(6, (n(), n()).prop_map(|(target, variant)| Edit::Comment { target, variant }).boxed()),
        edit(4, (n(), n()).prop_map(|(function, local)| Edit::RenameLocal { function, local }).boxed()),
        edit(6, n().prop_map(|function| Edit::AddParam { function }).boxed()),
        edit(5, (n(), n()).prop_map(|(function, param)| Edit::RemoveParam { function, param }).boxed()),
        edit(5, n().prop_map(|function| Edit::ReturnType { function }).boxed()),
        edit(6, (n(), n()).prop_map(|(constant, delta)| Edit::ConstValue { constant, delta }).boxed()),
        edit(4, (n(), n()).prop_map(|(global, delta)| Edit::GlobalInit { global, delta }).boxed()),
        edit(4, n().prop_map(|global| Edit::GlobalType { global }).boxed()),
        edit(4, (n(), n()).prop_map(|(module, variant)| Edit::AddFunction { module, variant }).boxed()),
        edit(3, n().prop_map(|function| Edit::RemoveFunction { function }).boxed()),
        edit(2, n().prop_map(|importer| Edit::AddModule { importer }).boxed()),
        edit(2, n().prop_map(|module| Edit::RemoveModule { module }).boxed()),
        edit(2, (n(), n()).prop_map(|(module, imported)| Edit::AddImport { module, imported }).boxed()),
        edit(2, (n(), n()).prop_map(|(module, import)| Edit::RemoveImport { module, import }).boxed()),
        edit(3, (n(), n()).prop_map(|(function, to)| Edit::MoveFunction { function, to }).boxed()),
        (4, (any::<bool>(), n()).prop_map(|(parse, target)| Intent::Break { parse, target }).boxed()),
        (5, n().prop_map(|back| Intent::Revert { back }).boxed()),
        (7, config_change().prop_map(Intent::Config).boxed()),
        (16, fault().prop_map(Intent::Fault).boxed()),
    ])
}

fn config_change() -> impl Strategy<Value = ConfigChange> {
    prop_oneof![
        3 => Just(ConfigChange::Release),
        2 => Just(ConfigChange::Lto),
        2 => (0u8..4).prop_map(ConfigChange::Cgu),
        2 => (1u8..=4).prop_map(ConfigChange::Jobs),
    ]
}

fn fault() -> impl Strategy<Value = Fault> {
    let n = any::<u16>;
    // Damage weighs most: much of what it strikes is never read again, so
    // it takes more draws than the other faults to hit a file that matters.
    // Kills and races cost two child processes each; an injected failure is
    // cheap, and the failure path is where queues lose wake-ups.
    prop_oneof![
        2 => n().prop_map(|function| Fault::Codegen { function }),
        1 => n().prop_map(|seed| Fault::Kill { seed }),
        3 => n().prop_map(|seed| Fault::Damage { seed }),
        1 => n().prop_map(|seed| Fault::Race { seed }),
    ]
}

/// A case: the program's seed, the seed of the fuzzed schedules, and 1 to `max_steps` intents.
pub fn case(max_steps: usize) -> impl Strategy<Value = (u64, u64, Vec<Intent>)> {
    (any::<u64>(), any::<u64>(), prop::collection::vec(intent(), 1..=max_steps.max(1)))
}
