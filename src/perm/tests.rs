//! Unit tests of the engine and a property test against a deliberately naive reference.

use std::collections::HashSet;

use super::*;

fn grants(model: &[&str], objects: &[(&str, &str)]) -> Grants {
    Grants {
        is_active: true,
        is_superuser: false,
        model_perms: model.iter().map(|s| s.to_string()).collect(),
        object_models: objects
            .iter()
            .map(|(m, v)| (m.to_string(), v.to_string()))
            .collect(),
        groups: HashSet::new(),
    }
}

fn set(codenames: &[&str]) -> HashSet<String> {
    codenames.iter().map(|s| s.to_string()).collect()
}

#[test]
fn jane_can_edit_blog_posts_but_nothing_else() {
    let jane = grants(&["view_posts", "change_posts"], &[]);
    let none = HashSet::new();
    assert!(decide(&jane, &Action::Change, "posts", &none).is_allowed());
    assert!(decide(&jane, &Action::View, "posts", &none).is_allowed());
    assert!(!decide(&jane, &Action::Delete, "posts", &none).is_allowed());
    assert!(!decide(&jane, &Action::View, "authors", &none).is_allowed());
    assert_eq!(
        decide(&jane, &Action::Add, "posts", &none),
        Decision::Deny("no add_posts permission".into())
    );
    assert_eq!(visibility(&jane, "posts"), Visibility::All);
    assert_eq!(visibility(&jane, "authors"), Visibility::Nothing);
    assert!(model_listed(&jane, "posts") && !model_listed(&jane, "authors"));
}

#[test]
fn jane_can_only_edit_that_specific_post() {
    let jane = grants(&[], &[("posts", "change")]);
    let on_17 = set(&["change_posts"]);
    let none = HashSet::new();
    assert!(decide(&jane, &Action::Change, "posts", &on_17).is_allowed());
    assert!(
        decide(&jane, &Action::View, "posts", &on_17).is_allowed(),
        "change implies view"
    );
    assert!(
        !decide(&jane, &Action::Change, "posts", &none).is_allowed(),
        "another row"
    );
    assert!(!decide(&jane, &Action::Delete, "posts", &on_17).is_allowed());
    assert_eq!(visibility(&jane, "posts"), Visibility::Granted);
    assert!(model_listed(&jane, "posts"));
}

#[test]
fn superusers_everything_disabled_users_nothing() {
    let root = Grants {
        is_active: true,
        is_superuser: true,
        ..Grants::default()
    };
    let none = HashSet::new();
    assert!(decide(&root, &Action::Delete, "anything", &none).is_allowed());
    assert!(decide_moat(&root, moat_perms::MANAGE_USERS).is_allowed());
    assert_eq!(visibility(&root, "x"), Visibility::All);
    let disabled = Grants {
        is_active: false,
        ..root
    };
    assert!(!decide(&disabled, &Action::View, "x", &none).is_allowed());
    assert!(!decide_moat(&disabled, moat_perms::VIEW_AUDIT).is_allowed());
    assert_eq!(visibility(&disabled, "x"), Visibility::Nothing);
    assert!(!model_listed(&disabled, "x"));
}

#[test]
fn custom_verbs_and_moat_permissions() {
    let g = grants(&["export_posts", moat_perms::VIEW_AUDIT], &[]);
    let none = HashSet::new();
    assert!(decide(&g, &Action::Custom("export".into()), "posts", &none).is_allowed());
    assert!(!decide(&g, &Action::View, "posts", &none).is_allowed());
    assert!(decide_moat(&g, moat_perms::VIEW_AUDIT).is_allowed());
    assert!(!decide_moat(&g, moat_perms::MANAGE_USERS).is_allowed());
    assert!(model_listed(&g, "posts"), "any permission lists the model");
}

#[test]
fn granting_needs_holding() {
    let g = grants(&["view_posts", moat_perms::MANAGE_PERMISSIONS], &[]);
    assert!(may_grant(&g, "view_posts").is_allowed());
    assert!(!may_grant(&g, "change_posts").is_allowed());
    let caps = capabilities(&grants(&["change_posts"], &[]), "posts");
    assert_eq!(
        caps,
        Capabilities {
            add: false,
            change: true,
            delete: false
        }
    );
}

/// A tiny deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
    fn chance(&mut self, one_in: u64) -> bool {
        self.next() % one_in == 0
    }
}

const MODELS: [&str; 3] = ["posts", "tags", "authors"];
const VERBS: [&str; 5] = ["view", "add", "change", "delete", "export"];
const PKS: [&str; 5] = ["1", "2", "3", "4", "5"];

/// Grants as an administrator would type them: per user and per group, model-level and
/// per row.
#[derive(Default)]
struct World {
    active: bool,
    superuser: bool,
    user_perms: Vec<String>,
    group_perms: Vec<Vec<String>>,
    user_objects: Vec<(String, String, String)>,
    group_objects: Vec<Vec<(String, String, String)>>,
}

impl World {
    fn random(rng: &mut Rng) -> World {
        let codename = |rng: &mut Rng| format!("{}_{}", rng.pick(&VERBS), rng.pick(&MODELS));
        let mut w = World {
            active: !rng.chance(10),
            superuser: rng.chance(15),
            ..World::default()
        };
        for _ in 0..rng.next() % 3 {
            w.user_perms.push(codename(rng));
        }
        for _ in 0..rng.next() % 3 {
            let perms = (0..rng.next() % 3).map(|_| codename(rng)).collect();
            w.group_perms.push(perms);
        }
        let object = |rng: &mut Rng| {
            let model = rng.pick(&MODELS);
            (
                format!("{}_{model}", rng.pick(&VERBS)),
                model.to_string(),
                rng.pick(&PKS).to_string(),
            )
        };
        for _ in 0..rng.next() % 4 {
            w.user_objects.push(object(rng));
        }
        for _ in 0..rng.next() % 3 {
            let objs = (0..rng.next() % 4).map(|_| object(rng)).collect();
            w.group_objects.push(objs);
        }
        w
    }

    fn all_objects(&self) -> impl Iterator<Item = &(String, String, String)> {
        self.user_objects
            .iter()
            .chain(self.group_objects.iter().flatten())
    }

    /// The reference: read the rule straight off the grants, no cleverness.
    fn allowed(&self, verb: &str, model: &str, pk: Option<&str>) -> bool {
        if !self.active {
            return false;
        }
        if self.superuser {
            return true;
        }
        let holds = |verb: &str| {
            let codename = format!("{verb}_{model}");
            let model_level = self.user_perms.contains(&codename)
                || self.group_perms.iter().any(|g| g.contains(&codename));
            let row_level = pk.is_some_and(|pk| {
                self.all_objects()
                    .any(|(c, m, p)| *c == codename && m == model && p == pk)
            });
            model_level || row_level
        };
        holds(verb) || (verb == "view" && holds("change"))
    }

    /// What the engine is given: the union loaded by the store.
    fn grants(&self) -> Grants {
        Grants {
            is_active: self.active,
            is_superuser: self.superuser,
            model_perms: self
                .user_perms
                .iter()
                .chain(self.group_perms.iter().flatten())
                .cloned()
                .collect(),
            object_models: self
                .all_objects()
                .map(|(c, m, _)| (m.clone(), c.split('_').next().unwrap_or("").to_string()))
                .collect(),
            groups: HashSet::new(),
        }
    }

    /// The codenames on one row, as the store returns them.
    fn row_perms(&self, model: &str, pk: &str) -> HashSet<String> {
        self.all_objects()
            .filter(|(_, m, p)| m == model && p == pk)
            .map(|(c, _, _)| c.clone())
            .collect()
    }

    /// Rows the list SQL returns for `Visibility::Granted`.
    fn granted_rows(&self, model: &str) -> HashSet<String> {
        let view = format!("view_{model}");
        let change = format!("change_{model}");
        self.all_objects()
            .filter(|(c, m, _)| m == model && (*c == view || *c == change))
            .map(|(_, _, p)| p.clone())
            .collect()
    }
}

fn action(verb: &str) -> Action {
    match verb {
        "view" => Action::View,
        "add" => Action::Add,
        "change" => Action::Change,
        "delete" => Action::Delete,
        other => Action::Custom(other.to_string()),
    }
}

#[test]
fn engine_agrees_with_the_reference_on_random_grants() {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut cases = 0;
    for _ in 0..2_000 {
        let world = World::random(&mut rng);
        let g = world.grants();
        for _ in 0..5 {
            let (verb, model) = (rng.pick(&VERBS), rng.pick(&MODELS));
            let pk = (!rng.chance(4)).then(|| rng.pick(&PKS));
            let row = pk.map(|p| world.row_perms(model, p)).unwrap_or_default();
            let engine = decide(&g, &action(verb), model, &row).is_allowed();
            assert_eq!(
                engine,
                world.allowed(verb, model, pk),
                "{verb} {model} {pk:?} with {g:?} / row {row:?}"
            );
            cases += 1;

            // Lists show exactly the rows the engine lets the user view.
            let visible: HashSet<String> = match visibility(&g, model) {
                Visibility::All => PKS.iter().map(|p| p.to_string()).collect(),
                Visibility::Granted => world.granted_rows(model),
                Visibility::Nothing => HashSet::new(),
            };
            for p in PKS {
                assert_eq!(
                    visible.contains(p),
                    world.allowed("view", model, Some(p)),
                    "visibility of {model}/{p} with {g:?}"
                );
            }
        }
    }
    assert!(cases >= 10_000, "{cases} cases");
}
